// io.containerd.grpc.v1.images: containerd.services.images.v1.Images over
// the metadata plugin's ImageStore face: Get, List, Create, Update (field
// masks as containerd's) and Delete. Every call needs a namespace. Messages
// are converted with the store's own record conversion (metadata/images.h),
// so that what is served is what is stored.
//
// After a change is stored, publishes /images/create, /images/update or
// /images/delete (payloads containerd.services.images.v1.ImageCreate, ...,
// as containerd packs them) when an event exchange is loaded. A Delete with
// `sync` set runs a garbage collection (CollectNow, gc_service.h) before it
// answers; a failed collection fails the call, the image stays deleted.
//
// Thread-safe (stateless; the store serialises changes).
#ifndef BERTH_HOST_SERVICES_IMAGES_SERVICE_H_
#define BERTH_HOST_SERVICES_IMAGES_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

Registration ImagesServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_IMAGES_SERVICE_H_
