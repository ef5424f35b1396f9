"""Helpers shared by test modules (imported as ``_helpers``: pytest puts ``tests/`` on the path)."""


def network_encoder(cls, **kwargs):
    """An encoder whose fit trains its network (the route that runs it, where it has one)."""
    est = cls(**kwargs)
    if "route" in est.get_params():
        est.set_params(route="network")
    return est
