// Clang's thread-safety annotations (-Wthread-safety), empty for other
// compilers. Annotate every member a mutex guards, and every function that
// must (or must not) be called with a lock held; berth::Mutex and friends
// (berth/mutex.h) are the capabilities the analysis understands. CI builds
// the tree with clang and -Wthread-safety -Werror.
//
//   class Cache {
//     berth::Mutex mu_;
//     std::map<std::string, int> entries_ BERTH_GUARDED_BY(mu_);
//     void EvictLocked() BERTH_REQUIRES(mu_);
//   };
//
// The names carry a BERTH_ prefix so that they never clash with the macros
// of the libraries berth includes (abseil's, through gRPC).
#ifndef BERTH_THREAD_ANNOTATIONS_H_
#define BERTH_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define BERTH_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define BERTH_THREAD_ANNOTATION_(x)
#endif

#define BERTH_CAPABILITY(x) BERTH_THREAD_ANNOTATION_(capability(x))
#define BERTH_SCOPED_CAPABILITY BERTH_THREAD_ANNOTATION_(scoped_lockable)
#define BERTH_GUARDED_BY(x) BERTH_THREAD_ANNOTATION_(guarded_by(x))
#define BERTH_PT_GUARDED_BY(x) BERTH_THREAD_ANNOTATION_(pt_guarded_by(x))
#define BERTH_ACQUIRED_BEFORE(...) BERTH_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
#define BERTH_ACQUIRED_AFTER(...) BERTH_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))
#define BERTH_REQUIRES(...) BERTH_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define BERTH_REQUIRES_SHARED(...) \
  BERTH_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
#define BERTH_ACQUIRE(...) BERTH_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define BERTH_ACQUIRE_SHARED(...) BERTH_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define BERTH_RELEASE(...) BERTH_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define BERTH_RELEASE_SHARED(...) BERTH_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define BERTH_RELEASE_GENERIC(...) BERTH_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
#define BERTH_TRY_ACQUIRE(...) BERTH_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define BERTH_EXCLUDES(...) BERTH_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define BERTH_ASSERT_CAPABILITY(x) BERTH_THREAD_ANNOTATION_(assert_capability(x))
#define BERTH_RETURN_CAPABILITY(x) BERTH_THREAD_ANNOTATION_(lock_returned(x))
#define BERTH_NO_THREAD_SAFETY_ANALYSIS BERTH_THREAD_ANNOTATION_(no_thread_safety_analysis)

#endif  // BERTH_THREAD_ANNOTATIONS_H_
