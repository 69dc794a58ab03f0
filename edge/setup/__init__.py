"""The installer's setup page (``edge-counter setup``): draw lines and zones on the camera's
own picture in a browser, watch detections and counts, and save the device config.

Served by the standard library's ``http.server`` on the device itself (no web framework on
the Pi), bound to localhost unless told, every request checked against a one-time token.
Modules: ``options`` (what the command passes), ``configfile`` (read, validate, back up and
write the TOML), ``live`` (the live view's thread), ``server`` (HTTP and the token),
``static/`` (the page: vanilla JS on a canvas, no CDN).
"""
