"""The backend wing: Java, DynamoDB Local (found or installed), the loopback server and its guard,
the class-data sharing archive, and ``connect``: a local, external or (opt-in) AWS endpoint.

Rooms: ``_java`` (a Java 17+ runtime), ``_install`` (the DynamoDB Local jar), ``_server`` (one
DynamoDB Local process on 127.0.0.1), ``_guard`` (stops it when its parent dies), ``_archive``
(class-data sharing), ``_connect`` (where the lab's DynamoDB is), ``_health`` (a killed or
frozen DynamoDB Local reported as ``BackendStoppedError``), ``_kinesis`` (the local Kinesis of
lesson 15, moto's server mode, behind the same guard), ``_sdk`` (the learner's own boto3
clients pointed at the lab, and nothing sent anywhere else). Imports nothing from ``esm`` or
``teach``.
"""

from __future__ import annotations

from ._archive import ClassDataArchive, ensure_class_data_archive, find_class_data_archive
from ._connect import Connection, connect, isolated_session
from ._install import DynamoDBLocalJar, find_dynamodb_local, install_dynamodb_local
from ._java import JavaRuntime, find_java
from ._sdk import SdkRedirect, redirect
from ._server import LocalServer, free_port

__all__ = [
    "ClassDataArchive",
    "Connection",
    "DynamoDBLocalJar",
    "JavaRuntime",
    "LocalServer",
    "SdkRedirect",
    "connect",
    "ensure_class_data_archive",
    "find_class_data_archive",
    "find_dynamodb_local",
    "find_java",
    "free_port",
    "install_dynamodb_local",
    "isolated_session",
    "redirect",
]
