"""Networks that ship inside the package (``builtin:NAME``)."""

from __future__ import annotations

from importlib import resources

from .golden import Network, NetworkFileError

__all__ = ["names", "load"]


def names() -> list[str]:
    folder = resources.files("spikeforge") / "networks"
    if not folder.is_dir():
        return []
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".npz"))


def load(name: str) -> Network:
    available = names()
    if name not in available:
        raise NetworkFileError(f"builtin:{name}: no such built-in network; available: "
                               f"{', '.join('builtin:' + n for n in available) or 'none yet'}")
    with resources.as_file(resources.files("spikeforge") / "networks" / f"{name}.npz") as path:
        return Network.load(path)
