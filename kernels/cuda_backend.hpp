#pragma once
// Plain C++ entry points of the CUDA backend (implemented in cuda_backend.cu). Host code includes
// this header only when NEUROSWEEP_HAVE_CUDA is defined; it never sees a CUDA header.
#include <memory>
#include <string>

#include "neurosweep/backend.hpp"

namespace ns {
std::unique_ptr<Backend> make_cuda_backend();
// Usable devices; 0 with the reason in *why when there is no driver or no device.
int cuda_devices(std::string* why);
// Makes device `ordinal` (0-based, of the visible ones) current for the calling host thread, before
// make_cuda_backend (MPI mode: one GPU per rank); backends made afterwards use that device only.
// False with the reason in *why. Without it a backend splits each chunk over every visible device
// (or those in NEUROSWEEP_CUDA_DEVICES, e.g. "0,1"), with results independent of the split.
bool cuda_select_device(int ordinal, std::string* why);
}  // namespace ns
