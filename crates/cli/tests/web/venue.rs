//! A stand-in for a system jifen sends to (an exchange venue, a webhook receiver): an axum
//! router on a loopback port of its own, which records every request and answers as the test
//! says.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// One request received: its headers (names lower case) and its body.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(h, _)| h == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// What the stand-in answers: a status and headers.
pub type Answer = (u16, Vec<(&'static str, String)>);

type Answering = Arc<dyn Fn(&Delivery) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Shared {
    answer: Answering,
    received: Arc<Mutex<Vec<Delivery>>>,
}

pub struct FakeVenue {
    /// `127.0.0.1:port`.
    pub addr: String,
    pub received: Arc<Mutex<Vec<Delivery>>>,
}

async fn receive(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let delivery = Delivery {
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    // The answer may take a while (a signature checked by another program): off the runtime.
    let (d, answer) = (delivery.clone(), s.answer.clone());
    let (status, extra) = tokio::task::spawn_blocking(move || answer(&d))
        .await
        .unwrap();
    s.received.lock().unwrap().push(delivery);
    let mut response = StatusCode::from_u16(status).unwrap().into_response();
    for (name, value) in extra {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

impl FakeVenue {
    /// Serves on a free loopback port until the test process ends.
    pub fn start(answer: impl Fn(&Delivery) -> Answer + Send + Sync + 'static) -> FakeVenue {
        let shared = Shared {
            answer: Arc::new(answer),
            received: Arc::default(),
        };
        let received = shared.received.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap().to_string()).unwrap();
                let app = Router::new().fallback(receive).with_state(shared);
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeVenue {
            addr: rx.recv().unwrap(),
            received,
        }
    }

    /// How many requests came.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}
