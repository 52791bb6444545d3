"""The gateway's routes, one module per resource; ``service.GatewayService``
is all of them. Each route is a declaration (``routing.route``) over a short
handler that calls the service that owns the resource."""
