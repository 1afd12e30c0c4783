//! A real authoritative DNS server on loopback (hickory-server, UDP + TCP on random ports) whose
//! zone the test changes while Ferry watches, and which can be made to fail (SERVFAIL, REFUSED)
//! the way a broken resolver does.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, MX, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};

pub struct TestDns {
    pub addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler>,
    failures: Failures,
    task: tokio::task::JoinHandle<()>,
}

/// Response codes the server answers instead of the zone: for one name, or (`None`) every name.
type Failures = Arc<Mutex<Vec<(Option<LowerName>, ResponseCode)>>>;

fn name(s: &str) -> Name {
    Name::from_str(&format!("{}.", s.trim_end_matches('.'))).expect("valid test name")
}

/// The zone, unless the test told the server to fail for the name asked (or for every name).
struct Handler {
    catalog: Catalog,
    failures: Failures,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let asked = request.queries.queries().first().map(|q| q.name().clone());
        let failure = self
            .failures
            .lock()
            .expect("failure mode")
            .iter()
            .find(|(name, _)| name.is_none() || *name == asked)
            .map(|(_, code)| *code);
        match failure {
            None => {
                self.catalog
                    .handle_request::<R, T>(request, response_handle)
                    .await
            }
            Some(code) => {
                let response = MessageResponseBuilder::new(&request.queries, None)
                    .error_msg(&request.metadata, code);
                response_handle
                    .send_response(response)
                    .await
                    .expect("send the error response")
            }
        }
    }
}

impl TestDns {
    /// Serves the root zone (every name the test sets) on 127.0.0.1, random port.
    pub async fn start() -> Self {
        let origin = Name::root();
        let mut zone =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(name("ns.test"), name("admin.test"), 1, 3600, 600, 86400, 60);
        zone.upsert_mut(Record::from_rdata(origin.clone(), 3600, RData::SOA(soa)), 1);
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![zone.clone()]);
        let failures = Failures::default();

        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let addr = udp.local_addr().expect("udp addr");
        // TCP on the same port, for answers too big for UDP.
        let tcp = TcpListener::bind(addr)
            .await
            .expect("bind tcp on the udp port");
        let mut server = Server::new(Handler {
            catalog,
            failures: failures.clone(),
        });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        let task = tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Self {
            addr,
            zone,
            failures,
            task,
        }
    }

    /// From now on every query gets `code` (SERVFAIL, REFUSED, ...); `None` serves the zone again.
    pub fn fail_with(&self, code: Option<ResponseCode>) {
        let mut failures = self.failures.lock().expect("failure mode");
        failures.clear();
        failures.extend(code.map(|code| (None, code)));
    }

    /// From now on queries for `owner` (any type) get `code`.
    pub fn fail_name(&self, owner: &str, code: ResponseCode) {
        self.failures
            .lock()
            .expect("failure mode")
            .push((Some(LowerName::new(&name(owner))), code));
    }

    /// Replaces the records of one name and type.
    pub async fn set(&self, owner: &str, rtype: RecordType, ttl: u32, data: Vec<RData>) {
        let owner = name(owner);
        let mut set = RecordSet::with_ttl(owner.clone(), rtype, ttl);
        for d in data {
            set.add_rdata(d);
        }
        let key = RrKey::new(LowerName::new(&owner), rtype);
        let mut records = self.zone.records_mut().await;
        if set.is_empty() {
            records.remove(&key);
        } else {
            records.insert(key, Arc::new(set));
        }
    }

    pub async fn set_mx(&self, domain: &str, ttl: u32, hosts: &[(u16, &str)]) {
        let data = hosts
            .iter()
            .map(|(pref, host)| RData::MX(MX::new(*pref, name(host))))
            .collect();
        self.set(domain, RecordType::MX, ttl, data).await;
    }

    pub async fn set_a(&self, host: &str, ttl: u32, ips: &[&str]) {
        let data = ips
            .iter()
            .map(|ip| RData::A(A(Ipv4Addr::from_str(ip).expect("test ip"))))
            .collect();
        self.set(host, RecordType::A, ttl, data).await;
    }

    pub async fn set_txt(&self, owner: &str, ttl: u32, texts: &[&str]) {
        let data = texts
            .iter()
            .map(|t| RData::TXT(TXT::new(vec![t.to_string()])))
            .collect();
        self.set(owner, RecordType::TXT, ttl, data).await;
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}
