"""The `local` profile's embedded Celery broker: kombu's filesystem transport, with messages written atomically.

kombu's filesystem transport writes a message file in place while a worker polling
the folder may already move and read it: under load the worker reads an empty file
and stops with a JSON error. Here a message is written under a name the readers
skip and renamed into place once complete. Broker URL: `batchfs://`.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "batchfs"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Readers take only `<stamp>_<uuid>.<queue>.msg`: the `.part` name is invisible to them until the rename.
        partial = final + ".part"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
