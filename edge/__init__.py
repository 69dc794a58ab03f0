"""Edge counter: counts vehicles and pedestrians crossing lines, on the device."""

__version__ = "0.1.0"
