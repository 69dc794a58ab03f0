"""Workstation tools, never run on the device: evaluation, assets, broker, model builds."""
