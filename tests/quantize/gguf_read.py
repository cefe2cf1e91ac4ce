"""A minimal GGUF reader for the quantize comparisons (the venv has no `gguf` package): metadata,
tensor infos and each tensor's bytes, with nothing but the standard library."""
import mmap
import struct

# GGML type id -> (name, block elements, block bytes) for the types these tests meet.
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 30: ("BF16", 1, 2),
}
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class GGUF:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.pos = 0
        magic, self.version = struct.unpack_from("<II", self.buf, 0)
        if magic != 0x46554747:
            raise ValueError(f"{path}: not a GGUF file")
        self.pos = 8
        n_tensors, n_kv = self._u("<QQ")
        self.kv = {}
        for _ in range(n_kv):
            key = self._str()
            (vtype,) = self._u("<I")
            self.kv[key] = self._value(vtype)
        self.tensors = []  # (name, dims, type_id, offset)
        for _ in range(n_tensors):
            name = self._str()
            (nd,) = self._u("<I")
            dims = list(self._u("<" + "Q" * nd))
            ttype, off = self._u("<IQ")
            self.tensors.append((name, dims, ttype, off))
        align = self.kv.get("general.alignment", 32)
        self.data_start = (self.pos + align - 1) // align * align
        self.by_name = {t[0]: t for t in self.tensors}

    def _u(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def _str(self):
        (n,) = self._u("<Q")
        s = bytes(self.buf[self.pos:self.pos + n]).decode("utf-8", "replace")
        self.pos += n
        return s

    def _value(self, vtype):
        if vtype in _SCALARS:
            return self._u(_SCALARS[vtype])[0]
        if vtype == 8:
            return self._str()
        if vtype == 9:
            etype, n = self._u("<IQ")
            return [self._value(etype) for _ in range(n)]
        raise ValueError(f"{self.path}: unknown value type {vtype}")

    def type_name(self, name):
        return GGML_TYPES.get(self.by_name[name][2], (str(self.by_name[name][2]),))[0]

    def tensor_bytes(self, name):
        _, dims, ttype, off = self.by_name[name]
        _, be, bb = GGML_TYPES[ttype]
        n = 1
        for d in dims:
            n *= d
        size = n // be * bb
        start = self.data_start + off
        return bytes(self.buf[start:start + size])
