"""Reading the pickles inside a PyTorch checkpoint statically, for the tests' expectations:
pickletools decodes opcodes, nothing is ever unpickled."""

import io
import pickletools
import zipfile


def pickle_streams(blob):
    """The pickles a checkpoint holds, as bytes: data.pkl of a zip, or the first four of a
    legacy file (magic, protocol, sys info, the object; storages follow)."""
    if blob[:2] == b"PK":
        z = zipfile.ZipFile(io.BytesIO(blob))
        return [z.read(n) for n in z.namelist() if n.endswith("/data.pkl")]
    out, pos = [], 0
    for _ in range(4):
        end = pos
        for _, _, at in pickletools.genops(io.BytesIO(blob[pos:])):
            end = pos + at + 1
        out.append(blob[pos:end])
        pos = end
    return out


def referenced_globals(blob):
    """"module.name" of every GLOBAL, INST and STACK_GLOBAL in the checkpoint's pickles."""
    names = set()
    for p in pickle_streams(blob):
        strings = []
        for op, arg, _ in pickletools.genops(io.BytesIO(p)):
            if op.name in ("GLOBAL", "INST"):
                names.add(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL":
                names.add(".".join(strings[-2:]))
            if isinstance(arg, str):
                strings.append(arg)
    return names
