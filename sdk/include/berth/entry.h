// The one entry point of a plugin library.
//
// A library exports a single symbol, `berth_plugin_descriptor`, a function
// returning a pointer to a constant PluginLibraryDescriptor. The host reads and
// checks the descriptor (magic, ABI major/minor, size, compiler ABI tag)
// before it calls anything else in the library. A plugin author writes, once
// per library:
//
//   static void Register(berth::Registrar& r) { r.Add({...}); }
//   BERTH_PLUGIN_LIBRARY(Register)
//
// The macro wraps Register so that no exception leaves the library.
#ifndef BERTH_ENTRY_H_
#define BERTH_ENTRY_H_

#include <cstdint>
#include <exception>

#include <boost/dll/alias.hpp>

#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

// "BERTHPLG" as a little-endian integer.
inline constexpr std::uint64_t kPluginMagic = 0x474C504854524542ULL;
// Major changes break plugins; minor changes only add (the host accepts
// libraries built against an equal major and a minor not above its own).
inline constexpr std::uint32_t kSdkAbiMajor = 2;
inline constexpr std::uint32_t kSdkAbiMinor = 0;

#if defined(_GLIBCXX_USE_CXX11_ABI)
inline constexpr std::uint32_t kCxx11Abi = _GLIBCXX_USE_CXX11_ABI;
#else
inline constexpr std::uint32_t kCxx11Abi = 0;
#endif
inline constexpr std::uint32_t kGxxAbiVersion = __GXX_ABI_VERSION;

// Frozen layout: fields are only ever appended (and abi_minor raised).
struct PluginLibraryDescriptor {
  std::uint64_t magic;
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  std::uint32_t size;  // sizeof(PluginLibraryDescriptor) as built
  std::uint32_t gxx_abi_version;
  std::uint32_t cxx11_abi;
  std::uint32_t reserved;
  // Adds the library's registrations. Never throws: a failure comes back as
  // a non-OK Status (Unknown with the exception's text).
  Status (*register_plugins)(Registrar& registrar);
};

// The exported symbol's name.
inline constexpr const char kPluginEntryPoint[] = "berth_plugin_descriptor";

namespace internal {
template <void (*Fn)(Registrar&)>
Status RegisterNoThrow(Registrar& registrar) noexcept {
  try {
    Fn(registrar);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Unknown(e.what());
  } catch (...) {
    return Status::Unknown("unknown exception during registration");
  }
}
}  // namespace internal

}  // namespace berth

#define BERTH_PLUGIN_LIBRARY(register_fn)                                    \
  namespace berth_plugin_entry {                                             \
  inline const ::berth::PluginLibraryDescriptor* Descriptor() {              \
    static const ::berth::PluginLibraryDescriptor descriptor = {             \
        ::berth::kPluginMagic,                                               \
        ::berth::kSdkAbiMajor,                                               \
        ::berth::kSdkAbiMinor,                                               \
        sizeof(::berth::PluginLibraryDescriptor),                            \
        ::berth::kGxxAbiVersion,                                             \
        ::berth::kCxx11Abi,                                                  \
        0,                                                                   \
        &::berth::internal::RegisterNoThrow<register_fn>};                   \
    return &descriptor;                                                      \
  }                                                                          \
  }                                                                          \
  BOOST_DLL_ALIAS(berth_plugin_entry::Descriptor, berth_plugin_descriptor)

#endif  // BERTH_ENTRY_H_
