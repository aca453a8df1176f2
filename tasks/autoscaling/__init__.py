"""autoscaling: choose the replica count over a time-varying load to minimise GPU-hours under a latency SLO (Glia)."""
