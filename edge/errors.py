"""Error hierarchy: every failure the product expects has a class and a message naming its input."""


class EdgeError(Exception):
    """Base of every error the product raises on purpose; the CLI turns it into exit code 2."""


class ConfigError(EdgeError):
    """A config file, command-line option or field is missing or invalid."""


class AssetError(EdgeError):
    """A model or clip could not be fetched, or its checksum does not match."""


class ModelError(EdgeError):
    """A model file or manifest is missing, corrupt or of an unknown family."""


class SourceError(EdgeError):
    """A frame source (video file, camera, stream) cannot be opened or read."""


class OutboxError(EdgeError):
    """The on-device journal cannot be opened or written."""


class WireError(EdgeError):
    """An MQTT topic or payload does not follow the wire format."""


class PublishError(EdgeError):
    """The broker refused the connection (bad credentials, TLS failure)."""


class StoreError(EdgeError):
    """The collector's database cannot be opened or migrated."""
