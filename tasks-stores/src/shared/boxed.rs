//! [`Store`](tasks_runtime::cluster::Store) for a store whose calls are
//! `async fn`s: the trait's boxed futures, written once for every store.

use tasks_runtime::cluster::{Fence, ReplicaId};

/// The end of a term, as [`Store::release`](tasks_runtime::cluster::Store::release)
/// asks for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Release<'a> {
    /// The loop's name.
    pub(crate) loop_name: &'a str,
    /// The replica ending its term.
    pub(crate) replica: &'a ReplicaId,
    /// The term's token: a release with another changes nothing.
    pub(crate) fence: Fence,
}

/// `impl Store for $store`, each method the boxed future of the store's
/// `async fn` of the same role: `claim_slot`, `renew_slot`, `finish_slot`,
/// `last_finished_slot`, `lease_term`, `release_term`.
macro_rules! impl_store {
    ($store:ty) => {
        impl ::tasks_runtime::cluster::Store for $store {
            fn claim<'a>(
                &'a self,
                claim: ::tasks_runtime::cluster::SlotClaim<'a>,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<::tasks_runtime::cluster::Claimed, ::tasks_runtime::cluster::StoreError>,
            > {
                Box::pin(self.claim_slot(claim))
            }

            fn renew_claim<'a>(
                &'a self,
                renewal: ::tasks_runtime::cluster::ClaimRenewal<'a>,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<::tasks_runtime::cluster::Renewal, ::tasks_runtime::cluster::StoreError>,
            > {
                Box::pin(self.renew_slot(renewal))
            }

            fn finish<'a>(
                &'a self,
                finish: ::tasks_runtime::cluster::SlotFinish<'a>,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<(), ::tasks_runtime::cluster::StoreError>,
            > {
                Box::pin(self.finish_slot(finish))
            }

            fn last_finished<'a>(
                &'a self,
                loop_name: &'a str,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<
                    Option<::tasks_runtime::cluster::FinishedSlot>,
                    ::tasks_runtime::cluster::StoreError,
                >,
            > {
                Box::pin(self.last_finished_slot(loop_name))
            }

            fn lease<'a>(
                &'a self,
                request: ::tasks_runtime::cluster::LeaseRequest<'a>,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<::tasks_runtime::cluster::Lease, ::tasks_runtime::cluster::StoreError>,
            > {
                Box::pin(self.lease_term(request))
            }

            fn release<'a>(
                &'a self,
                loop_name: &'a str,
                replica: &'a ::tasks_runtime::cluster::ReplicaId,
                fence: ::tasks_runtime::cluster::Fence,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<(), ::tasks_runtime::cluster::StoreError>,
            > {
                Box::pin(self.release_term($crate::shared::boxed::Release {
                    loop_name,
                    replica,
                    fence,
                }))
            }
        }
    };
}

pub(crate) use impl_store;
