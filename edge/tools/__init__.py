"""Workstation tools, never run on the device: evaluation, assets, an embedded broker, model builds."""
