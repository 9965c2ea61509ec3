"""The development harness: embedded broker, local cluster, demo feed and the `make run` console."""
