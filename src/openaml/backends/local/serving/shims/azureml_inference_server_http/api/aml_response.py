"""azureml-inference-server-http's AMLResponse, from openaml's worker."""
from openaml_aml_http import AMLResponse  # noqa: F401
