"""Serving online endpoints on this machine: a router process per endpoint, worker processes per deployment."""
