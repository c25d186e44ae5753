"""Keep the HAProxy ingress's side listeners on loopback.

Ray Serve's HAProxy config binds its stats page and Prometheus exporter on every interface
(`bind *:8404`, `bind :9101`). This Ray worker setup hook rewrites those two lines of the template
to 127.0.0.1 in each Ray worker process (the Serve proxy renders the config there).
"""


def patch() -> None:
    try:
        from ray.serve._private import haproxy
    except ImportError:  # a Ray without the HAProxy ingress: nothing to patch
        return
    haproxy.HAPROXY_CONFIG_TEMPLATE = haproxy.HAPROXY_CONFIG_TEMPLATE.replace(
        "bind *:{{ config.stats_port }}", "bind 127.0.0.1:{{ config.stats_port }}"
    ).replace("bind :{{ config.metrics_port }}", "bind 127.0.0.1:{{ config.metrics_port }}")
