//! The replication payload: what Get Job to Replicate returns on the source and Replicate
//! PUT Job takes on the target. The documents disagree (seed 002's text says an XML
//! payload, the Modify Active Job response; the 4.1 sample is JSON with `blobs`, `chunks`,
//! `id` and `objects`). The reference writes the JSON of the sample, because only it
//! carries object ids and blob-to-object links, and reads both: that JSON, or a
//! MasterObjectList (docs/choices.md D6).

use serde::{Deserialize, Serialize};

use crate::ds3::ids;
use crate::ds3::xml::{self, MasterObjectList};

/// One job's description for another system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// The job id (kept on the target).
    pub id: String,
    /// The job's priority on the source (not in the 4.1 sample; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// The job's name (not in the sample; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every blob.
    #[serde(default)]
    pub blobs: Vec<PayloadBlob>,
    /// Every chunk, with its entries (blob → chunk).
    #[serde(default)]
    pub chunks: Vec<PayloadChunk>,
    /// Every object.
    #[serde(default)]
    pub objects: Vec<PayloadObject>,
}

/// A blob of the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadBlob {
    /// Where it starts in its object.
    pub byte_offset: u64,
    /// Its checksum, when known.
    #[serde(default)]
    pub checksum: Option<String>,
    /// The checksum's kind.
    #[serde(default)]
    pub checksum_type: Option<String>,
    /// The blob id.
    pub id: String,
    /// Its length.
    pub length: u64,
    /// Its object's id.
    pub object_id: String,
}

/// A chunk of the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadChunk {
    /// Its number.
    pub chunk_number: u32,
    /// Its blobs, in order.
    #[serde(default)]
    pub entries: Vec<PayloadEntry>,
    /// The chunk id.
    pub id: String,
}

/// One blob's place in a chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadEntry {
    /// The blob.
    pub blob_id: String,
    /// The chunk.
    pub chunk_id: String,
    /// The entry's own id.
    pub id: String,
    /// The job.
    pub job_id: String,
    /// Its place in the chunk.
    pub order_index: u64,
}

/// An object of the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadObject {
    /// The source's bucket (name or id; the target uses the bucket of its URL).
    #[serde(default)]
    pub bucket_id: String,
    /// When it was created.
    #[serde(default)]
    pub creation_date: Option<String>,
    /// The object id (kept on the target).
    pub id: String,
    /// Whether it is the latest version.
    #[serde(default)]
    pub latest: bool,
    /// Its name.
    pub name: String,
    /// `DATA` (or `FOLDER`).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its version (not in the sample; 1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

impl Payload {
    /// The JSON text Get Job to Replicate answers.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads either form: the JSON payload, or a MasterObjectList (XML).
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            return serde_json::from_str(trimmed).map_err(|e| format!("bad JSON payload: {e}"));
        }
        if trimmed.starts_with('<') {
            let mol: MasterObjectList = xml::from_xml(trimmed)?;
            return Ok(Self::from_master_object_list(&mol));
        }
        Err("the payload is neither JSON nor a MasterObjectList".into())
    }

    /// A MasterObjectList as a payload. It names no object ids, so each object gets an id
    /// derived from its first blob's id: stable for one source job, not the source's own.
    pub fn from_master_object_list(mol: &MasterObjectList) -> Self {
        let mut p = Payload {
            id: mol.job_id.clone(),
            priority: Some(mol.priority.clone()),
            name: Some(mol.name.clone()),
            ..Default::default()
        };
        let mut object_of: std::collections::BTreeMap<String, String> = Default::default();
        for c in &mol.chunks {
            let mut entries = Vec::new();
            for (i, b) in c.objects.iter().enumerate() {
                let object_id = object_of
                    .entry(b.name.clone())
                    .or_insert_with(|| {
                        let h =
                            b.id.bytes()
                                .fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(u64::from(x)));
                        ids::nth(h, 0)
                    })
                    .clone();
                if !p.objects.iter().any(|o| o.id == object_id) {
                    p.objects.push(PayloadObject {
                        bucket_id: mol.bucket_name.clone(),
                        creation_date: None,
                        id: object_id.clone(),
                        latest: b.latest,
                        name: b.name.clone(),
                        kind: "DATA".into(),
                        version: Some(b.version),
                    });
                }
                p.blobs.push(PayloadBlob {
                    byte_offset: b.offset,
                    checksum: None,
                    checksum_type: None,
                    id: b.id.clone(),
                    length: b.length,
                    object_id,
                });
                entries.push(PayloadEntry {
                    blob_id: b.id.clone(),
                    chunk_id: c.chunk_id.clone(),
                    id: String::new(),
                    job_id: mol.job_id.clone(),
                    order_index: i as u64,
                });
            }
            p.chunks.push(PayloadChunk {
                chunk_number: c.chunk_number,
                entries,
                id: c.chunk_id.clone(),
            });
        }
        p
    }

    /// Checks what the target relies on: ids present, every entry's blob and every blob's
    /// object described.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() {
            return Err("the payload has no job id".into());
        }
        for b in &self.blobs {
            if !self.objects.iter().any(|o| o.id == b.object_id) {
                return Err(format!(
                    "blob {} names unknown object {}",
                    b.id, b.object_id
                ));
            }
        }
        for c in &self.chunks {
            for e in &c.entries {
                if !self.blobs.iter().any(|b| b.id == e.blob_id) {
                    return Err(format!("chunk {} names unknown blob {}", c.id, e.blob_id));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of the 4.1 document's sample (fields as it shows them).
    const DOC_SAMPLE: &str = r#"{"blobs":[{"byteOffset":0,"checksum":null,"checksumType":null,"id":"b1","length":10,"objectId":"o1"}],
        "chunks":[{"chunkNumber":1,"entries":[{"blobId":"b1","chunkId":"c1","id":"e1","jobId":"j1","orderIndex":0}],"id":"c1"}],
        "id":"j1","objects":[{"bucketId":"bk","creationDate":"2016-01-21T18:54:21.000Z","id":"o1","latest":true,"name":"o1","type":"DATA"}]}"#;

    #[test]
    fn the_documented_json_and_a_master_object_list_both_parse() {
        let p = Payload::parse(DOC_SAMPLE).expect("the sample parses");
        assert_eq!(p.id, "j1");
        assert_eq!(p.blobs[0].object_id, "o1");
        p.validate().expect("consistent");
        let again = Payload::parse(&p.to_json()).expect("round trip");
        assert_eq!(again, p);
        let mol = r#"<MasterObjectList Aggregating="FALSE" BucketName="b" CachedSizeInBytes="0" ChunkClientProcessingOrderGuarantee="NONE" CompletedSizeInBytes="0" EntirelyInCache="FALSE" JobId="j2" Naked="FALSE" Name="n" OriginalSizeInBytes="3" Priority="NORMAL" RequestType="PUT" StartDate="2016-01-21T18:54:21.000Z" Status="IN_PROGRESS" UserId="u" UserName="x"><Nodes/><Objects ChunkId="c9" ChunkNumber="1"><Object Id="b9" InCache="FALSE" Latest="TRUE" Length="3" Name="a" Offset="0" Version="2"/></Objects></MasterObjectList>"#;
        let p = Payload::parse(mol).expect("MOL parses");
        assert_eq!(p.id, "j2");
        assert_eq!(p.chunks[0].id, "c9");
        assert_eq!(p.objects[0].version, Some(2));
        p.validate().expect("consistent");
        assert!(Payload::parse("garbage").is_err());
        let broken = Payload {
            id: "j".into(),
            blobs: vec![PayloadBlob {
                id: "b".into(),
                object_id: "missing".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(broken.validate().is_err());
    }
}
