"""Durable, locked metadata for yoi Pods (named Workers).

Import cheaply: this module loads nothing. The public API lives in submodules:

- :mod:`yoi_pod_store.names`: the Pod name / runtime id rule,
- :mod:`yoi_pod_store.model`: :class:`~yoi_pod_store.model.PodRecord` and
  :class:`~yoi_pod_store.model.RuntimeRecord` and their JSON form,
- :mod:`yoi_pod_store.contract`: the :class:`~yoi_pod_store.contract.PodStore` contract every
  backend implements, including liveness,
- :mod:`yoi_pod_store.errors`: every error the store raises,
- :mod:`yoi_pod_store.plugins`: ``open_pod_store(url)`` and the backend registry,
- :mod:`yoi_pod_store.references`: which sessions Pods and Runtimes still point at,
- :mod:`yoi_pod_store.testing`: the conformance kit for backends.
"""

from __future__ import annotations
