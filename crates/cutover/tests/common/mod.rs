//! A real authoritative DNS server on loopback (hickory-server, UDP + TCP on random ports) whose
//! zone the test changes while Ferry watches.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, MX, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::authority::{Catalog, ZoneType};
use hickory_server::store::in_memory::InMemoryAuthority;
use hickory_server::ServerFuture;
use tokio::net::{TcpListener, UdpSocket};

pub struct TestDns {
    pub addr: SocketAddr,
    authority: Arc<InMemoryAuthority>,
    task: tokio::task::JoinHandle<()>,
}

fn name(s: &str) -> Name {
    Name::from_str(&format!("{}.", s.trim_end_matches('.'))).expect("valid test name")
}

impl TestDns {
    /// Serves the root zone (every name the test sets) on 127.0.0.1, random port.
    pub async fn start() -> Self {
        let origin = Name::root();
        let mut authority = InMemoryAuthority::empty(origin.clone(), ZoneType::Primary, false);
        let soa = SOA::new(name("ns.test"), name("admin.test"), 1, 3600, 600, 86400, 60);
        authority.upsert_mut(Record::from_rdata(origin.clone(), 3600, RData::SOA(soa)), 1);
        let authority = Arc::new(authority);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![authority.clone()]);

        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let addr = udp.local_addr().expect("udp addr");
        // TCP on the same port, for answers too big for UDP.
        let tcp = TcpListener::bind(addr)
            .await
            .expect("bind tcp on the udp port");
        let mut server = ServerFuture::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5));
        let task = tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Self {
            addr,
            authority,
            task,
        }
    }

    /// Replaces the records of one name and type.
    pub async fn set(&self, owner: &str, rtype: RecordType, ttl: u32, data: Vec<RData>) {
        let owner = name(owner);
        let mut set = RecordSet::with_ttl(owner.clone(), rtype, ttl);
        for d in data {
            set.add_rdata(d);
        }
        let key = RrKey::new(LowerName::new(&owner), rtype);
        let mut records = self.authority.records_mut().await;
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
