"""The errors maskflow raises for user mistakes.

A `MaskflowError` is printed by the CLI as one clear message (file, row, problem) and exit
status 2, never as a traceback. Anything else is a bug and keeps its traceback.
"""


class MaskflowError(Exception):
    """A problem with the user's data, config or files, explained in the message."""


class ConfigError(MaskflowError):
    """The config is invalid: the message names the key and what is allowed."""


class DataError(MaskflowError):
    """Input data cannot be used: the message names the file, row and problem."""


class DownloadError(MaskflowError):
    """A download failed after its retries, or its checksum did not match."""


class CheckpointError(MaskflowError):
    """A checkpoint is corrupt, or does not match the arrays it is applied to."""


class DiskFullError(MaskflowError):
    """A write ran out of space (or quota): the message names the file, which was left as it was."""
