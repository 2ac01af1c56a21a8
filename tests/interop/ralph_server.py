"""Runs Ralph's LRS (the file-system backend) under uvicorn: `python ralph_server.py PORT`.

Ralph 5.1.0's file backend creates a new file on every write and answers 500 to the second
POST, so its default operation type is set to append before the app starts.
"""

from __future__ import annotations

import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

if __name__ == "__main__":
    from ralph.api import app

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
