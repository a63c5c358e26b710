"""The local target: docker-compose + Dockerfile for Docker users, and the local runner's plan."""

from .target import LocalTarget

__all__ = ["LocalTarget"]
