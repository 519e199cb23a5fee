//! [`SerialComm`]: the communicator of a single rank.

use super::{Comm, Parts, check_counts, check_rank};
use crate::DecompError;

/// The one-rank communicator: rank 0 of 1. Every collective is a copy; sending to
/// (and receiving from) rank 0 is a copy to oneself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SerialComm;

impl SerialComm {
    /// The serial communicator.
    pub fn new() -> Self {
        Self
    }
}

impl Comm for SerialComm {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn kind(&self) -> &'static str {
        "serial"
    }

    fn barrier(&self) -> Result<(), DecompError> {
        Ok(())
    }

    fn all_gather_bytes(&self, send: &[u8]) -> Result<Parts, DecompError> {
        Parts::new(send.to_vec(), &[send.len()])
    }

    fn all_to_all_v_bytes(&self, send: &[u8], send_counts: &[usize]) -> Result<Parts, DecompError> {
        check_counts(send, send_counts, 1)?;
        Parts::new(send.to_vec(), send_counts)
    }

    fn broadcast_bytes(&self, root: usize, _data: &mut Vec<u8>) -> Result<(), DecompError> {
        check_rank(root, 1)
    }

    fn send_recv_bytes(
        &self,
        send: &[u8],
        dest: usize,
        source: usize,
        _tag: u16,
    ) -> Result<Vec<u8>, DecompError> {
        check_rank(dest, 1)?;
        check_rank(source, 1)?;
        Ok(send.to_vec())
    }

    fn split(&self, _color: usize, _key: usize) -> Result<Box<dyn Comm>, DecompError> {
        Ok(Box::new(SerialComm))
    }
}
