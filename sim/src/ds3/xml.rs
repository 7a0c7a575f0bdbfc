//! The DS3 wire documents, read and written with quick-xml's serde support: the
//! MasterObjectList (seed 002: attribute names, their order and value formats as the
//! sample shows them), a chunk (`<Objects>`), the job list, the bulk request payload and
//! the Error body. Both the gateway and the harness use these types, so the wire format is
//! defined once; `tests` holds seed 002's sample as the fixture that pins it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `TRUE`/`FALSE` attributes (DS3 writes booleans upper-case; any case is read).
pub mod upper_bool {
    use super::*;

    /// Writes `TRUE` or `FALSE`.
    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *v { "TRUE" } else { "FALSE" })
    }

    /// Reads `true`/`false` in any case.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_uppercase().as_str() {
            "TRUE" => Ok(true),
            "FALSE" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "expected TRUE or FALSE, got `{other}`"
            ))),
        }
    }
}

/// A job with its chunks: what bulk job creation, Get Job, Modify (Active) Job and Get Job
/// Chunks Ready answer (contract type JobWithChunksApiBean).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "MasterObjectList")]
pub struct MasterObjectList {
    /// Whether later jobs of the same kind are appended to this one.
    #[serde(rename = "@Aggregating", with = "upper_bool")]
    pub aggregating: bool,
    /// The bucket's name.
    #[serde(rename = "@BucketName")]
    pub bucket_name: String,
    /// Bytes in cache for this job (PUT: received from the client).
    #[serde(rename = "@CachedSizeInBytes")]
    pub cached_size_in_bytes: u64,
    /// `IN_ORDER` or `NONE`.
    #[serde(rename = "@ChunkClientProcessingOrderGuarantee")]
    pub chunk_client_processing_order_guarantee: String,
    /// Bytes completely processed (PUT: on every permanent store; GET: read by the client).
    #[serde(rename = "@CompletedSizeInBytes")]
    pub completed_size_in_bytes: u64,
    /// Whether every blob of the job is in cache.
    #[serde(rename = "@EntirelyInCache", with = "upper_bool")]
    pub entirely_in_cache: bool,
    /// The job's id.
    #[serde(rename = "@JobId")]
    pub job_id: String,
    /// True when a plain S3 request made the job.
    #[serde(rename = "@Naked", with = "upper_bool")]
    pub naked: bool,
    /// The job's name.
    #[serde(rename = "@Name")]
    pub name: String,
    /// Sum of the job's blob lengths.
    #[serde(rename = "@OriginalSizeInBytes")]
    pub original_size_in_bytes: u64,
    /// CRITICAL|URGENT|HIGH|NORMAL|LOW|BACKGROUND.
    #[serde(rename = "@Priority")]
    pub priority: String,
    /// PUT|GET|VERIFY.
    #[serde(rename = "@RequestType")]
    pub request_type: String,
    /// `YYYY-MM-DDThh:mm:ss.xxxZ`.
    #[serde(rename = "@StartDate")]
    pub start_date: String,
    /// IN_PROGRESS|COMPLETED|CANCELED.
    #[serde(rename = "@Status")]
    pub status: String,
    /// The owner's id.
    #[serde(rename = "@UserId")]
    pub user_id: String,
    /// The owner's name.
    #[serde(rename = "@UserName")]
    pub user_name: String,
    /// The gateway nodes.
    #[serde(rename = "Nodes", default)]
    pub nodes: Nodes,
    /// One `<Objects>` per chunk, no wrapper.
    #[serde(rename = "Objects", default)]
    pub chunks: Vec<Chunk>,
}

/// `<Nodes>` wrapper.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nodes {
    /// The nodes.
    #[serde(rename = "Node", default)]
    pub nodes: Vec<Node>,
}

/// One gateway node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Host name or address clients use.
    #[serde(rename = "@EndPoint")]
    pub end_point: String,
    /// The node's id.
    #[serde(rename = "@Id")]
    pub id: String,
}

/// One chunk (contract JobChunkApiBean, marshalled as `<Objects>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Objects")]
pub struct Chunk {
    /// The chunk's id.
    #[serde(rename = "@ChunkId")]
    pub chunk_id: String,
    /// Its 1-based number in the job.
    #[serde(rename = "@ChunkNumber")]
    pub chunk_number: u32,
    /// The node that serves it (optional).
    #[serde(rename = "@NodeId", default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// Its blobs.
    #[serde(rename = "Object", default)]
    pub objects: Vec<Blob>,
}

/// One blob: a byte range of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// The blob's id.
    #[serde(rename = "@Id", default)]
    pub id: String,
    /// Whether its bytes are in cache.
    #[serde(rename = "@InCache", with = "upper_bool", default)]
    pub in_cache: bool,
    /// Whether it belongs to the latest version of the object.
    #[serde(rename = "@Latest", with = "upper_bool", default)]
    pub latest: bool,
    /// Its length.
    #[serde(rename = "@Length")]
    pub length: u64,
    /// The object's name.
    #[serde(rename = "@Name")]
    pub name: String,
    /// Where it starts in the object.
    #[serde(rename = "@Offset")]
    pub offset: u64,
    /// The object's version.
    #[serde(rename = "@Version", default)]
    pub version: u64,
}

/// Get Jobs answers: `<Jobs><Job .../>...</Jobs>`, each job as the MasterObjectList's
/// attributes without chunks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Jobs")]
pub struct JobList {
    /// The jobs.
    #[serde(rename = "Job", default)]
    pub jobs: Vec<MasterObjectList>,
}

/// The Error body every failure carries (contract HttpErrorResultApiBean).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Error")]
pub struct ErrorBody {
    /// A short code (`NotFound`, `InvalidSecurity`, ...).
    #[serde(rename = "Code")]
    pub code: String,
    /// The HTTP status again.
    #[serde(rename = "HttpErrorCode")]
    pub http_error_code: u16,
    /// What went wrong.
    #[serde(rename = "Message")]
    pub message: String,
    /// The request path.
    #[serde(rename = "Resource")]
    pub resource: String,
    /// Always 0 here (the real server's internal id).
    #[serde(rename = "ResourceId")]
    pub resource_id: u64,
}

/// A bulk request's body: `<Objects><Object Name= Size=|Length= [Offset=] [VersionId=]/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Objects")]
pub struct BulkRequest {
    /// The objects asked for.
    #[serde(rename = "Object", default)]
    pub objects: Vec<BulkObject>,
}

/// One object of a bulk request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkObject {
    /// The object's name.
    #[serde(rename = "@Name")]
    pub name: String,
    /// PUT: the object's size (the SDKs' attribute).
    #[serde(rename = "@Size", default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// PUT (older documents) or GET (a range): a length.
    #[serde(rename = "@Length", default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// GET: where a range starts.
    #[serde(rename = "@Offset", default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Create Data Policy's answer (contract type DataPolicy, root `Data`): the fields BP-20
/// needs; a reader ignores the others a real server sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Data")]
pub struct DataPolicyDoc {
    /// The policy's id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Its unique name.
    #[serde(rename = "Name")]
    pub name: String,
    /// NONE | KEEP_LATEST | KEEP_MULTIPLE_VERSIONS.
    #[serde(rename = "Versioning", default)]
    pub versioning: String,
}

/// Create Bucket's answer (contract type Bucket, root `Data`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Data")]
pub struct BucketDoc {
    /// The bucket's id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Its name.
    #[serde(rename = "Name")]
    pub name: String,
    /// The data policy it was created with.
    #[serde(rename = "DataPolicyId", default)]
    pub data_policy_id: String,
    /// The owner.
    #[serde(rename = "UserId", default)]
    pub user_id: String,
}

/// Get Bucket's answer (`GET /{bucket}`, contract type BucketObjectsApiBean): the visible
/// objects, one `Contents` each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "ListBucketResult")]
pub struct ListBucketResult {
    /// The bucket's name.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// The objects.
    #[serde(rename = "Contents", default)]
    pub contents: Vec<Contents>,
}

/// One listed object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contents {
    /// The object's name.
    #[serde(rename = "Key")]
    pub key: String,
    /// Its size in bytes.
    #[serde(rename = "Size", default)]
    pub size: u64,
}

/// Writes a document as XML text.
pub fn to_xml<T: Serialize>(doc: &T) -> String {
    // The types above have only strings, numbers and nested structs: serializing them
    // cannot fail, and an empty document is the safe answer if it ever did.
    quick_xml::se::to_string(doc).unwrap_or_default()
}

/// Reads a document, or says why not (untrusted input: never panics).
pub fn from_xml<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    quick_xml::de::from_str(text).map_err(|e| format!("not a valid document: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 002's sample response, with its one typo (`Version=1"`) repaired.
    const SEED_002: &str = r#"<MasterObjectList
   Aggregating="FALSE"
   BucketName="existing_bucket"
   CachedSizeInBytes="0"
   ChunkClientProcessingOrderGuarantee="IN_ORDER"
   CompletedSizeInBytes="0"
   EntirelyInCache="FALSE"
   JobId="cce39f77-7570-48e1-92de-235a5b282c1d"
   Naked="FALSE"
   Name="Untitled"
   OriginalSizeInBytes="10"
   Priority="NORMAL"
   RequestType="PUT"
   StartDate="2016-01-21T18:54:21.000Z"
   Status="IN_PROGRESS"
   UserId="d0bf86e8-7bba-4507-a0f0-2698fb8fccfa"
   UserName="test_user">
   <Nodes>
      <Node EndPoint="blackpearl-hostname"
      Id="a651430c-22aa-468b-8b4b-42b50627faf3"/>
   </Nodes>
   <Objects
      ChunkId="4294b5c2-b4ae-46db-8aca-858805a7a116"
      ChunkNumber="1">
      <Object Id="58fa3a04-7711-49b8-aaba-93b91eb93145"
         InCache="FALSE" Latest="TRUE" Length="10"
         Name="o1" Offset="0" Version="1"/>
   </Objects>
</MasterObjectList>"#;

    #[test]
    fn seed_002_sample_reads_and_writes_back_in_the_same_form() {
        let mol: MasterObjectList = from_xml(SEED_002).expect("seed 002 parses");
        assert_eq!(mol.job_id, "cce39f77-7570-48e1-92de-235a5b282c1d");
        assert_eq!(mol.chunks.len(), 1);
        assert_eq!(mol.chunks[0].objects[0].version, 1);
        assert!(mol.chunks[0].objects[0].latest);
        let text = to_xml(&mol);
        // Attributes in the seed's order, booleans upper-case, no NodeId when absent.
        assert!(
            text.starts_with(
                "<MasterObjectList Aggregating=\"FALSE\" BucketName=\"existing_bucket\" \
                 CachedSizeInBytes=\"0\" ChunkClientProcessingOrderGuarantee=\"IN_ORDER\" \
                 CompletedSizeInBytes=\"0\" EntirelyInCache=\"FALSE\" JobId="
            ),
            "{text}"
        );
        assert!(text.contains("<Nodes><Node EndPoint=\"blackpearl-hostname\" Id=\"a651430c-22aa-468b-8b4b-42b50627faf3\"/></Nodes>"), "{text}");
        assert!(text.contains("<Objects ChunkId=\"4294b5c2-b4ae-46db-8aca-858805a7a116\" ChunkNumber=\"1\"><Object Id=\"58fa3a04-7711-49b8-aaba-93b91eb93145\" InCache=\"FALSE\" Latest=\"TRUE\" Length=\"10\" Name=\"o1\" Offset=\"0\" Version=\"1\"/></Objects>"), "{text}");
        assert_eq!(from_xml::<MasterObjectList>(&text), Ok(mol));
    }

    #[test]
    fn bulk_requests_and_errors_round_trip_and_bad_input_is_an_error() {
        let req: BulkRequest = from_xml(
            r#"<Objects><Object Name="a" Size="5"/><Object Name="b" Length="7"/></Objects>"#,
        )
        .expect("parses");
        assert_eq!(req.objects[0].size, Some(5));
        assert_eq!(req.objects[1].length, Some(7));
        let err = ErrorBody {
            code: "NotFound".into(),
            http_error_code: 404,
            message: "no such job".into(),
            resource: "/_rest_/job/x".into(),
            resource_id: 0,
        };
        let text = to_xml(&err);
        assert_eq!(text, "<Error><Code>NotFound</Code><HttpErrorCode>404</HttpErrorCode><Message>no such job</Message><Resource>/_rest_/job/x</Resource><ResourceId>0</ResourceId></Error>");
        assert!(from_xml::<BulkRequest>("<Objects><Object Size=\"x\"/>").is_err());
        assert!(from_xml::<MasterObjectList>("not xml").is_err());
    }
}
