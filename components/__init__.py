"""Reusable ComponentResources of the trading platform, one concern per module."""
