//! The protobuf wire format: varints, fixed-width numbers and length-delimited fields.

use super::ProtoError;

/// One field as read off the wire.
pub enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    /// Kubernetes has no 32-bit fixed fields; read past for well-formedness only.
    Fixed32,
    Bytes(&'a [u8]),
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn fail(&self, why: &'static str) -> ProtoError {
        ProtoError::Wire { offset: self.pos, why }
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut out = 0u64;
        for shift in (0..70).step_by(7) {
            let b =
                *self.buf.get(self.pos).ok_or_else(|| self.fail("a varint runs past the end"))?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(self.fail("a varint overflows 64 bits"));
            }
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(self.fail("a varint is longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| self.fail("a field runs past the end"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next field number and value, or `None` at the end.
    pub fn next_field(&mut self) -> Result<Option<(u32, Raw<'a>)>, ProtoError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number =
            u32::try_from(key >> 3).map_err(|_| self.fail("a field number is too large"))?;
        if number == 0 {
            return Err(self.fail("field number 0 is not valid"));
        }
        let raw = match key & 7 {
            0 => Raw::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Raw::Fixed64(u64::from_le_bytes(
                    b.try_into().map_err(|_| self.fail("short fixed64"))?,
                ))
            }
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| self.fail("a length is too large"))?;
                Raw::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Raw::Fixed32
            }
            _ => return Err(self.fail("unsupported wire type (groups are not used by Kubernetes)")),
        };
        Ok(Some((number, raw)))
    }
}

/// The values of a packed repeated numeric field.
pub fn packed_varints(buf: &[u8]) -> Result<Vec<u64>, ProtoError> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while r.pos < r.buf.len() {
        out.push(r.varint()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_length_delimited_fields_are_read_in_order() {
        // field 1 = varint 300, field 2 = bytes "hi"
        let buf = [0x08, 0xac, 0x02, 0x12, 0x02, b'h', b'i'];
        let mut r = Reader::new(&buf);
        assert!(matches!(r.next_field(), Ok(Some((1, Raw::Varint(300))))));
        assert!(matches!(r.next_field(), Ok(Some((2, Raw::Bytes(b"hi"))))));
        assert!(matches!(r.next_field(), Ok(None)));
    }

    #[test]
    fn a_truncated_field_is_an_error_with_its_offset() {
        let buf = [0x12, 0x05, b'h'];
        let mut r = Reader::new(&buf);
        assert!(matches!(r.next_field(), Err(ProtoError::Wire { offset: 2, .. })));
    }
}
