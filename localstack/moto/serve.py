"""moto's server (PyPI moto[server], pinned in infra/scripts/ensure-python-tools.sh) as the local
DynamoDB endpoint of the market, the integration tests and the benches, with two changes that make
its DynamoDB behave like DynamoDB where the registries depend on it:

- isolation: moto's server answers on many threads and its DynamoDB backend takes no lock, so two
  conditional writes (or transactions) could interleave between a condition check and the write it
  guards. DynamoDB requests are served one at a time here, so every request is atomic, as in AWS.
- cost of a transaction: moto backs up a whole table (deep copy) for every item of a
  TransactWriteItems, to roll back if one fails; a 21-item commit on a table of a few hundred items
  then takes seconds. Here only the items the transaction names are saved and put back.

It also exits when the process that started it is gone (killed without its exit handlers), so no
orphaned server keeps its port and memory.

Usage: .tools/py/bin/python localstack/moto/serve.py -H 127.0.0.1 -p PORT (moto_server's options).
"""

import copy
import os
import sys
import threading
import time

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_dynamodb_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialized_call_action(self):
    with _dynamodb_lock:
        return _call_action(self)


class _TablesNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend: a Table is not deep-copied
    (the transaction below saves the items it touches instead); anything else is."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_transact_write_items = DynamoDBBackend.transact_write_items


def _saved_items(backend, transact_items):
    """(table, key, attributes before or None) of every item a transaction names."""
    saved = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table_name = op.get("TableName") if isinstance(op, dict) else None
            if table_name not in backend.tables:
                continue
            table = backend.tables[table_name]
            if op_type == "Put":
                attrs = op.get("Item", {})
                key_names = [table.hash_key_attr, table.range_key_attr]
                if any(name is not None and name not in attrs for name in key_names):
                    continue
                key = {name: attrs[name] for name in key_names if name is not None}
            else:
                key = op.get("Key")
            if not key:
                continue
            try:
                before = backend.get_item(table_name, key)
            except Exception:  # an invalid key: moto's own checks reject the transaction
                continue
            saved.append((table_name, key, before.to_json()["Attributes"] if before else None))
    return saved


def _transact_write_items_saving_touched(self, transact_items):
    saved = _saved_items(self, transact_items)
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        # Cancelled: put back what the items that did land changed, latest first.
        for table_name, key, before in reversed(saved):
            if before is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before)
        raise


DynamoHandler.call_action = _serialized_call_action
dynamodb_models.copy = _TablesNotCopied
DynamoDBBackend.transact_write_items = _transact_write_items_saving_touched

def _exit_with_parent(parent):
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    main(sys.argv[1:])
