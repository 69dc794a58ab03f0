"""Runtime: the one frame loop, the feed, detect-ahead, result sinks, health and supervision."""
