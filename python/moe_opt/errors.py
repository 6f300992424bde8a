"""The package's exception."""


class MoeError(RuntimeError):
    """A failure reported by moe-translate or libmoert, with its message.

    `status` is libmoert's status name (e.g. "MOERT_ERROR_WEIGHTS") when
    the runtime failed, else None."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status
