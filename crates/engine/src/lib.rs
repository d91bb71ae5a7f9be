//! The controller: Application CRD, reconcile loop, drift, heal, history, rollback.
