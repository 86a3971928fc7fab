"""The ``qaicc`` dialect: attributes shared by every level of qaicc IR.

``#qaicc.blob`` is how every constant tensor of a model is held. Its bytes live in a
``Blob`` (a numpy array, possibly memory-mapped or loaded lazily from the ONNX model's
own buffers), never in the attribute's text:

    #qaicc.blob<"bert.embeddings.word_embeddings.weight" : tensor<30522x768xf32>>
    #qaicc.blob<"shape" : tensor<3xi64> = [1, 128, 768]>
    #qaicc.blob<"w" : tensor<2xbf16> = "0x803F0040">

The first form is an *elided* blob: printing elides blobs with more elements than the
active ``elide_threshold`` (see ``qaicc.ir.printing``), and parsing such text gives a
blob without data (reading its values is then an error that says so). Small blobs are
printed as a flat list of values when the element type allows it, else as hex bytes.

Equality: two blob attributes are equal when they share the same ``Blob`` object, or
when both hold at most ``VALUE_EQUALITY_MAX_BYTES`` bytes with the same dtype, shape and
bytes (so that small constants can be deduplicated without hashing weights).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import StringAttr, TensorType
from xdsl.ir import Attribute, Data, Dialect, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from qaicc.errors import QaiccError

VALUE_EQUALITY_MAX_BYTES = 64
INLINE_VALUES_MAX_ELEMENTS = 16

elide_threshold: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "qaicc_blob_elide_threshold", default=None
)
"""Blobs with more elements than this are printed without data (None: print all)."""


class Blob:
    """The bytes of one constant tensor: immutable, shared, optionally lazy.

    ``loader`` is called at most once, on first access to ``array``; it must return an
    array of ``dtype`` and ``shape``. A blob with neither array nor loader was elided
    when its IR was printed.
    """

    __slots__ = ("_array", "_loader", "dtype", "shape")

    def __init__(
        self,
        array: np.ndarray | None = None,
        *,
        loader: Callable[[], np.ndarray] | None = None,
        dtype: np.dtype | None = None,
        shape: Sequence[int] | None = None,
    ):
        if array is not None:
            array = np.asarray(array)
            if array.flags.writeable and array.base is None:
                array.flags.writeable = False
            dtype, shape = array.dtype, array.shape
        self._array = array
        self._loader = loader
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.shape = tuple(int(d) for d in shape) if shape is not None else None

    @property
    def has_data(self) -> bool:
        return self._array is not None or self._loader is not None

    @property
    def is_loaded(self) -> bool:
        return self._array is not None

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            if self._loader is None:
                raise QaiccError(
                    "a constant was elided when its IR was printed; print the IR with "
                    "--print-large-constants to keep constant data"
                )
            array = np.asanyarray(self._loader())
            if array.flags.writeable:
                array = array.view()
                array.flags.writeable = False
            self._array = array
            self._loader = None
        return self._array

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape is not None else 0

    @property
    def nbytes(self) -> int:
        if self.dtype is None or self.dtype == np.dtype(object):
            return self.array.nbytes if self.has_data else 0
        return self.size * self.dtype.itemsize

    def _value_key(self) -> tuple | None:
        if not self.has_data or self.dtype == np.dtype(object):
            return None
        if self.nbytes > VALUE_EQUALITY_MAX_BYTES:
            return None
        return (self.dtype.str, self.dtype.name, self.shape, self.array.tobytes())

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Blob):
            return False
        key = self._value_key()
        return key is not None and key == other._value_key()

    def __hash__(self) -> int:
        key = self._value_key()
        return hash(key) if key is not None else id(self)


@irdl_attr_definition
class BlobData(Data[Blob]):
    """The Python-side holder of a Blob; printed and parsed by ``DenseBlobAttr``."""

    name = "qaicc.blob_data"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> Blob:
        raise NotImplementedError("qaicc.blob_data is only parsed inside #qaicc.blob")

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string("...")


def _inline_values_allowed(dtype: np.dtype) -> bool:
    return dtype == np.dtype(object) or (dtype.kind in "biuf" and dtype.isbuiltin == 1)


def _print_blob_values(printer: Printer, array: np.ndarray) -> None:
    flat = array.reshape(-1)
    if array.dtype == np.dtype(object):
        printer.print_string("[")
        printer.print_list(flat, lambda s: printer.print_string_literal(_as_text(s)))
        printer.print_string("]")
        return
    if array.dtype.kind == "f" and not np.all(np.isfinite(flat)):
        printer.print_string_literal("0x" + array.tobytes().hex().upper())
        return
    if array.dtype.kind == "f":
        values = [_float_literal(str(x)) for x in flat]
    else:
        values = [str(int(x)) for x in flat]
    printer.print_string("[" + ", ".join(values) + "]")


def _float_literal(text: str) -> str:
    """MLIR float literals need a '.' before any exponent: 1e-07 -> 1.0e-07."""
    if "." in text:
        return text
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}.0{e}{exponent}"


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return str(value)


@irdl_attr_definition
class DenseBlobAttr(ParametrizedAttribute):
    """A constant tensor: a name, a tensor type, and a Blob holding its values."""

    name = "qaicc.blob"

    blob_name: StringAttr
    type: Attribute
    data: BlobData

    @staticmethod
    def from_array(array: np.ndarray, name: str, type: Attribute) -> DenseBlobAttr:
        return DenseBlobAttr(StringAttr(name), type, BlobData(Blob(array)))

    @staticmethod
    def from_blob(blob: Blob, name: str, type: Attribute) -> DenseBlobAttr:
        return DenseBlobAttr(StringAttr(name), type, BlobData(blob))

    @property
    def blob(self) -> Blob:
        return self.data.data

    def to_numpy(self) -> np.ndarray:
        return self.blob.array

    def verify(self) -> None:
        if not isinstance(self.type, TensorType):
            raise VerifyException(f"#qaicc.blob expects a ranked tensor type, got {self.type}")
        blob = self.blob
        if blob.shape is not None and blob.shape != tuple(self.type.get_shape()):
            raise VerifyException(
                f"#qaicc.blob '{self.blob_name.data}' holds shape {blob.shape}, "
                f"its type says {tuple(self.type.get_shape())}"
            )

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<")
        printer.print_string_literal(self.blob_name.data)
        printer.print_string(" : ")
        printer.print_attribute(self.type)
        blob = self.blob
        threshold = elide_threshold.get()
        if blob.has_data and (threshold is None or blob.size <= threshold):
            printer.print_string(" = ")
            array = blob.array
            if array.size <= INLINE_VALUES_MAX_ELEMENTS and _inline_values_allowed(array.dtype):
                _print_blob_values(printer, array)
            else:
                printer.print_string_literal("0x" + array.tobytes().hex().upper())
        printer.print_string(">")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        parser.parse_punctuation("<")
        name = parser.parse_str_literal()
        parser.parse_punctuation(":")
        type = parser.parse_type()
        blob = Blob(dtype=_numpy_dtype_of(type), shape=_shape_of(type))
        if parser.parse_optional_punctuation("=") is not None:
            blob = _parse_blob_data(parser, type)
        parser.parse_punctuation(">")
        return (StringAttr(name), type, BlobData(blob))


def _numpy_dtype_of(type: Attribute) -> np.dtype | None:
    from qaicc.dialects.onnx.element_types import from_xdsl

    if not isinstance(type, TensorType):
        return None
    element = from_xdsl(type.element_type)
    return element.numpy if element else None


def _shape_of(type: Attribute) -> tuple[int, ...] | None:
    return tuple(type.get_shape()) if isinstance(type, TensorType) else None


def _parse_blob_data(parser: AttrParser, type: Attribute) -> Blob:
    dtype = _numpy_dtype_of(type)
    shape = _shape_of(type)
    if dtype is None or shape is None:
        parser.raise_error(f"#qaicc.blob cannot hold values of type {type}")
    hex_text = parser.parse_optional_str_literal()
    if hex_text is not None:
        if not hex_text.startswith("0x"):
            parser.raise_error("#qaicc.blob data must be a list of values or a '0x...' hex string")
        try:
            raw = bytes.fromhex(hex_text[2:])
        except ValueError:
            parser.raise_error("#qaicc.blob hex data is not valid hexadecimal")
        expected = int(np.prod(shape)) * dtype.itemsize
        if len(raw) != expected:
            parser.raise_error(f"#qaicc.blob data has {len(raw)} bytes, {type} needs {expected}")
        return Blob(np.frombuffer(raw, dtype=dtype).reshape(shape))
    if dtype == np.dtype(object):
        values = parser.parse_comma_separated_list(
            parser.Delimiter.SQUARE, lambda: parser.parse_str_literal().encode("utf-8", "surrogateescape")
        )
        _check_count(parser, len(values), shape, type)
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return Blob(array.reshape(shape))
    values = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, parser.parse_number)
    _check_count(parser, len(values), shape, type)
    return Blob(np.array(values).astype(dtype).reshape(shape))


def _check_count(parser: AttrParser, count: int, shape: tuple[int, ...], type: Attribute) -> None:
    if count != int(np.prod(shape)):
        parser.raise_error(f"#qaicc.blob has {count} values, {type} holds {int(np.prod(shape))}")


QAICC = Dialect("qaicc", [], [BlobData, DenseBlobAttr])
