"""Workstation tools, never run on the device: evaluation, assets, a broker, model builds."""
