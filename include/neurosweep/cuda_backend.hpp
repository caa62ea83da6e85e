#pragma once
// API of the CUDA backend: plain C++ entry points, implemented in kernels/cuda_backend.cu (the only
// place that sees CUDA). Host code calls them only where NEUROSWEEP_HAVE_CUDA is defined (the
// build links kernels/ then); everything else goes through make_backend in backend.hpp.
#include <memory>
#include <string>
#include <vector>

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
// Model plugins (host/models/plugin.hpp run_plugin_cuda): the backend runs a model that is no
// built-in through this function, registered when a plugin loads (one device: the first in use).
using PluginCudaRunner = bool (*)(const RunSettings& s, const ChunkInput& in, ChunkOutput& out, int device);
void set_plugin_cuda_runner(PluginCudaRunner f);
// Spiking networks in the block form (neurosweep/network/net_block.hpp; kernels/network_kernels.cu):
// one network instance per thread block, all of `model` (one with net_block_model), on the
// first device in use. Fills each instance's outputs; false with the reason in *why when there is
// no device or the model has no block kernel.
template <class T>
struct NetBlockInstance;
struct NetBlockRun;
bool cuda_run_net_blocks(const std::string& model, const std::vector<NetBlockInstance<float>*>& xs,
                         const NetBlockRun& r, std::string* why);
bool cuda_run_net_blocks(const std::string& model, const std::vector<NetBlockInstance<double>*>& xs,
                         const NetBlockRun& r, std::string* why);
}  // namespace ns
