"""azureml-inference-server-http's AMLRequest and rawhttp, from openaml's worker."""
from openaml_aml_http import AMLRequest, _from_parts, rawhttp  # noqa: F401

_rawHttpRequested = False
