"""MLTable files loaded into pandas: ``openaml.data.load_table(uri).to_pandas_dataframe()``.

Azure's ``mltable`` package, with an import change: ``from openaml.data import load`` (or
``import openaml.data as mltable``) reads the same ``MLTable`` files with the same chainable API
(``take``, ``skip``, ``take_random_sample``, ``keep_columns``, ``drop_columns``,
``convert_column_types`` with :class:`DataType`, ``show``, ``to_pandas_dataframe``), from a local
folder or any datastore. openaml implements the documented subset itself, over pyarrow (the
``openaml[mltable]`` extra): see docs/mltable.md for what is ours and what Azure has that
openaml does not.
"""

from .table import DataType, MLTable, load, load_table

__all__ = ["DataType", "MLTable", "load", "load_table"]
