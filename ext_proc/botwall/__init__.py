"""botwall: server-side bot defence for Envoy, as an external-processing (ext_proc) service."""

__version__ = "0.1.0"
