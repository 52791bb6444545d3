"""What every level of the test suite shares, and the bench too: where the
servers are (``servers``), waiting for what travels over the bus
(``polling``), the services as real processes (``processes``, ``system``),
an HTTP client with the API's assertions (``api``), and loopback peers
(``webhook_receiver``)."""
