"""Cinder's exception family, as drivers and actors raise it.

Expected failures are ``CinderException`` subclasses; anything else a driver raises is a driver
bug that the volume manager contains. ``message`` is a template filled from keyword arguments,
and ``code`` is the HTTP status the API answers with.
"""

from __future__ import annotations

from typing import Any


class CinderException(Exception):
    """Base of every expected failure."""

    message = "An unknown exception occurred."
    code = 500

    def __init__(self, message: str | None = None, **kwargs: Any):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError, ValueError):
                message = f"{self.message} ({kwargs})" if kwargs else self.message
        self.msg = message
        super().__init__(message)


class Invalid(CinderException):
    message = "Unacceptable parameters."
    code = 400


class InvalidInput(Invalid):
    message = "Invalid input received: %(reason)s"


class InvalidVolume(Invalid):
    message = "Invalid volume: %(reason)s"


class InvalidVolumeType(Invalid):
    message = "Invalid volume type: %(reason)s"


class InvalidReplicationTarget(Invalid):
    message = "Invalid replication target: %(reason)s"


class InvalidParameterValue(Invalid):
    message = "%(err)s"


class InvalidConfigurationValue(Invalid):
    message = 'Value "%(value)s" is not valid for configuration option "%(option)s"'


class NotAuthorized(CinderException):
    message = "Not authorized."
    code = 403


class PolicyNotAuthorized(NotAuthorized):
    message = "Policy doesn't allow %(action)s to be performed."


class NotFound(CinderException):
    message = "Resource could not be found."
    code = 404


class VolumeNotFound(NotFound):
    message = "Volume %(volume_id)s could not be found."


class VolumeTypeNotFound(NotFound):
    message = "Volume type %(volume_type_id)s could not be found."


class MetadataNotFound(NotFound):
    message = "Volume %(volume_id)s has no metadata with key %(key)s."


class ServiceNotFound(NotFound):
    message = "Service %(service_id)s could not be found."


class Conflict(CinderException):
    message = "Conflict."
    code = 409


class VolumeTypeExists(Conflict):
    message = "Volume Type %(id)s already exists."


class QuotaError(CinderException):
    message = "Quota exceeded: code=%(code)s"
    code = 413


class VolumeSizeExceedsAvailableQuota(QuotaError):
    message = (
        "Requested volume or snapshot exceeds allowed %(name)s quota. Requested %(requested)sG, "
        "quota is %(quota)sG and %(consumed)sG has been consumed."
    )


class VolumeSizeExceedsLimit(QuotaError):
    message = "Requested volume size %(size)dG is larger than maximum allowed limit %(limit)dG."


class VolumeLimitExceeded(QuotaError):
    message = "Maximum number of volumes allowed (%(allowed)d) exceeded for quota '%(name)s'."


class NoValidHost(CinderException):
    message = "No valid host was found. %(reason)s"


class VolumeBackendAPIException(CinderException):
    message = "Bad or unexpected response from the storage volume backend API: %(data)s"


class VolumeDriverException(CinderException):
    message = "Volume driver reported an error: %(message)s"


class UnableToFailOver(VolumeDriverException):
    message = "Unable to failover to replication target: %(reason)s"


class DBUnavailable(CinderException):
    message = "The database is unavailable: %(reason)s"
    code = 503


class ConfigError(CinderException):
    """A configuration file is wrong; the message names the file, section, option and text."""

    message = "%(reason)s"
    code = 400


class UnsupportedVersion(CinderException):
    """An RPC message asks for an API version this endpoint does not implement."""

    message = "Endpoint does not support RPC version %(version)s (supports up to %(supported)s)"


class DriverNotInitialized(VolumeDriverException):
    message = "Volume driver not ready: %(reason)s"


# Generic volume groups (microversion 3.13) and their types (3.11), as Cinder words them.


class InvalidGroup(Invalid):
    message = "Invalid Group: %(reason)s"


class InvalidGroupType(Invalid):
    message = "Invalid group type: %(reason)s"


class GroupNotFound(NotFound):
    message = "Group %(group_id)s could not be found."


class GroupTypeNotFound(NotFound):
    message = "Group type %(group_type_id)s could not be found."


class GroupTypeSpecsNotFound(NotFound):
    message = "Group Type %(group_type_id)s has no specs with key %(group_specs_key)s."


class GroupTypeExists(Conflict):
    message = "Group Type %(id)s already exists."


class ReplicationGroupError(CinderException):
    message = "Group %(group_id)s replication error: %(reason)s."
