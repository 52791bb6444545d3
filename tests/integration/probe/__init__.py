"""A small Nameko service used by the integration tests to exercise the
platform from inside a real ``nameko run`` process (eventlet, relay, handlers)."""
