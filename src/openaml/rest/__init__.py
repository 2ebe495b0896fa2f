"""The wire: Azure ML's REST layout, shared by the server (``openaml.server``) and the SDK's
HTTP transport (``openaml.client``), and by nothing below them.

* :mod:`~openaml.rest.paths`: resource paths (``/subscriptions/{s}/resourceGroups/{rg}/providers/
  Microsoft.MachineLearningServices/workspaces/{ws}/...``) and their ids;
* :mod:`~openaml.rest.errors`: ``{"error": {code, message, details, additionalInfo}}`` and back
  to the same exception class;
* :mod:`~openaml.rest.envelope`: Azure's envelope (``id``, ``name``, ``type``, ``properties``,
  ``systemData``) and collections (``{"value": [...], "nextLink": ...}``);
* :mod:`~openaml.rest.assets`, :mod:`~openaml.rest.resources`, :mod:`~openaml.rest.jobs`:
  entities to ``properties`` with the field names of azure-ai-ml's generated REST models, and back.
"""
