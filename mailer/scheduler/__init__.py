"""Scheduling: APScheduler (job store in the same database) starts campaigns on time."""
