//! The notebook service on its own: a real notebook store in a temp dir, the in-memory database and
//! the fake runner (no Node), with the published events collected in order.

use quire_notebook::db::prelude::*;
use quire_notebook::{MemoryDatabase, NotebookStore, lock};
use quire_runtime::Stream;
use quire_service::{Edit, Event, FakeRunner, NotebookService, Parts, Publish, ServiceError};
use srcmd::{Cell, CellStatus, CodeCell, Language};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

struct Collect(Mutex<mpsc::UnboundedSender<Event>>);

impl Publish for Collect {
    fn publish(&self, _: &str, event: Event) {
        let _ = self.0.lock().unwrap().send(event);
    }
}

struct Fixture {
    svc: NotebookService,
    db: Arc<MemoryDatabase>,
    runner: Arc<FakeRunner>,
    events: mpsc::UnboundedReceiver<Event>,
    id: String,
    _tmp: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(NotebookStore::open(&tmp.path().join("notebooks")).unwrap());
    let db = Arc::new(MemoryDatabase::new());
    let runner = Arc::new(FakeRunner::default());
    let (tx, events) = mpsc::unbounded_channel();
    let tsls = quire_tsls::Manager::new(tmp.path().join("cache"), Duration::from_secs(1), "node".into());
    let svc = NotebookService::new(Parts {
        store: store.clone(),
        db: db.clone(),
        runner: runner.clone(),
        tsls: Arc::new(tsls),
        publish: Arc::new(Collect(Mutex::new(tx))),
        language_enabled: false,
    });
    let id = lock(&store.create("Service", Language::Javascript).unwrap()).id.clone();
    Fixture { svc, db, runner, events, id, _tmp: tmp }
}

fn code(id: &str, filename: &str, source: &str) -> Cell {
    Cell::Code(CodeCell {
        id: id.into(),
        source: source.into(),
        language: Language::Javascript,
        filename: filename.into(),
        status: CellStatus::Idle,
    })
}

impl Fixture {
    fn digest(&self) -> [u8; 32] {
        lock(&self.svc.store.get(&self.id).unwrap()).content_digest()
    }
    fn approved(&self) -> bool {
        self.db.stamp_matches(&self.id, &self.digest()).unwrap()
    }
    async fn add(&self, cell: Cell) {
        self.svc.edit(&self.id, Edit::Create { index: 1, cell }).await.ok().unwrap();
    }
    async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(5), self.events.recv()).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn an_approved_notebook_stays_approved_through_edits_and_an_unapproved_one_does_not_become_so() {
    let f = fixture();
    assert!(!f.approved());
    f.add(code("c1", "a.js", "1")).await;
    assert!(!f.approved(), "an edit never approves content that was not approved");
    f.svc.approve(&f.id).unwrap();
    let update = Edit::Update { cell_id: "c1".into(), text: None, source: Some("2".into()) };
    f.svc.edit(&f.id, update).await.ok().unwrap();
    assert!(f.approved(), "the stamp follows an edit made through Quire");
    let rename = Edit::Rename { cell_id: "c1".into(), filename: "b.js".into() };
    f.svc.edit(&f.id, rename).await.ok().unwrap();
    assert!(f.approved());
}

#[tokio::test]
async fn a_refused_update_answers_with_the_stored_cell() {
    let f = fixture();
    f.add(code("c1", "a.js", "1")).await;
    let bad = Edit::Rename { cell_id: "c1".into(), filename: "../x.js".into() };
    let refused = f.svc.edit(&f.id, bad).await.err().unwrap();
    assert!(matches!(refused.error, ServiceError::Notebook(_)), "{}", refused.error);
    assert!(matches!(refused.current, Some(Cell::Code(ref c)) if c.filename == "a.js"));
    let empty = Edit::Update { cell_id: "c1".into(), text: None, source: None };
    assert!(matches!(f.svc.edit(&f.id, empty).await.err().unwrap().error, ServiceError::Invalid(_)));
}

#[tokio::test]
async fn a_run_publishes_running_then_idle_with_its_outcome() {
    let mut f = fixture();
    f.add(code("c1", "a.js", "console.log(1)")).await;
    f.svc.run(&f.id, "c1").await.unwrap();
    let mut statuses = Vec::new();
    while statuses.len() < 2 {
        if let Event::Status { cell, outcome } = f.next().await {
            statuses.push((cell_status(&cell), outcome.map(|o| o.exit_code)));
        }
    }
    assert_eq!(statuses, vec![(CellStatus::Running, None), (CellStatus::Idle, Some(Some(0)))]);
    assert_eq!(f.runner.runs.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(matches!(f.svc.stop(&f.id, "c1"), Err(ServiceError::NotRunning)));
    let title = lock(&f.svc.store.get(&f.id).unwrap()).nb.cells[0].id().to_string();
    assert!(matches!(f.svc.run(&f.id, &title).await, Err(ServiceError::NotACodeCell(_))));
}

#[tokio::test]
async fn secrets_are_withheld_from_a_notebook_whose_content_was_not_approved() {
    let mut f = fixture();
    f.add(code("c1", "a.js", "1")).await;
    f.db.upsert_secret("API_KEY", "s3cret").unwrap();
    f.db.link_secret("API_KEY", &f.id).unwrap();
    f.svc.run(&f.id, "c1").await.unwrap();
    let warned = loop {
        match f.next().await {
            Event::Output { stream: Stream::Stderr, text, .. } => break text,
            Event::Status { outcome: Some(_), .. } => panic!("no warning before the run ended"),
            _ => {}
        }
    };
    assert!(warned.contains("secrets are withheld"), "{warned}");
    f.svc.approve(&f.id).unwrap();
    f.svc.run(&f.id, "c1").await.unwrap();
    let given: Vec<Vec<String>> = f.runner.requests.lock().unwrap().iter().map(|r| r.1.clone()).collect();
    assert_eq!(given, vec![vec![], vec!["API_KEY".to_string()]]);
}

fn cell_status(cell: &Cell) -> CellStatus {
    match cell {
        Cell::Code(c) => c.status,
        _ => CellStatus::Idle,
    }
}
