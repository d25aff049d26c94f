"""Two costs of emulating AWS in one process that say nothing about the code under test.

moto gives every mocked test a new default boto3 session (`boto3.DEFAULT_SESSION` is patched to
None), and a new session parses botocore's service models again: 3.6 s of three profiled
handler tests. The models are static files of the pinned botocore, and botocore already shares
one parsed model among all clients of a session (`instance_cache` in `botocore/loaders.py`);
`share_service_models` extends that sharing to every session of the process with the same
search paths.

moto also loads its catalogue of public AMIs (about 1,300 images, each with a volume and a
snapshot) into every EC2 backend it creates: 3.9 s of the same three tests. Nothing here
launches an instance, so `MOTO_EC2_LOAD_DEFAULT_AMIS` turns that off (moto's
`settings.ec2_load_default_amis`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from botocore import loaders

_SHARED: dict[tuple[Any, ...], Any] = {}


def _shared(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def load(self: loaders.Loader, *args: Any, **kwargs: Any) -> Any:
        key = (name, tuple(self.search_paths), args, tuple(sorted(kwargs.items())))
        if key not in _SHARED:
            _SHARED[key] = method(self, *args, **kwargs)
        return _SHARED[key]

    return load


def share_service_models() -> None:
    """Parse each botocore model file once per process; idempotent."""
    if getattr(loaders.Loader, "_models_shared", False):
        return
    # botocore's `instance_cache` wrappers all carry the name `_wrapper`: the key names the method.
    for name in ("load_service_model", "load_data_with_path"):
        setattr(loaders.Loader, name, _shared(name, getattr(loaders.Loader, name)))
    loaders.Loader._models_shared = True  # type: ignore[attr-defined]


def skip_default_amis() -> None:
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
