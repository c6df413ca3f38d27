#include "crate/instruments/mae_profile.hpp"

#include <cmath>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/grad_mode.hpp"
#include "crate/report/plot.hpp"
#include "ops/coding_rate.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {
namespace {

std::vector<double> mae_per_image(const Tensor& t) { return prim::cast(t, DType::f64).to_vector<double>(); }

Stat mae_stat(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x / static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean) / static_cast<double>(v.size());
  s.std = std::sqrt(s.std);
  return s;
}

}  // namespace

MaeProfile measure_mae(const MaskedAutoencoder& model, data::Loader& loader, const std::string& label,
                       const MaskOf& mask_of) {
  if (model.config().backbone != MaeBackbone::crate)
    throw std::invalid_argument(fmt::format("measure_mae: '{}' has a ViT decoder; the profile needs CRATE layers",
                                            model.config().name));
  const ModeGuard eval(const_cast<MaskedAutoencoder&>(model), false);
  const autograd::NoGradGuard no_grad;
  const auto& enc = model.encoder_layers();
  const auto& dec = model.decoder_layers();
  std::vector<std::vector<double>> erc(enc.size()), enz(enc.size()), drc(dec.size()), dout(dec.size());
  const double e2 = ops::kMeasurementEps;
  MaeProfile p;
  p.label = label;
  loader.start(0, 0);
  while (auto b = loader.next()) {
    std::vector<LayerTrace> et;
    std::vector<DecoderTrace> dt;
    const Tensor mask = mask_of(*b);
    (void)model.decode(model.encode(b->x, mask, &et), &dt);
    for (std::size_t l = 0; l < enc.size(); ++l) {
      for (double v : mae_per_image(ops::compressed_coding_rate(et[l].ln1, enc[l]->subspaces(), e2, ops::kMeasurement)))
        erc[l].push_back(v);
      const Tensor& out = et[l].output;
      const double denom = static_cast<double>(out.size(1) * out.size(2));
      for (double v : mae_per_image(prim::sum(prim::unary(prim::Unary::gt_scalar, prim::unary(prim::Unary::abs, out), 0.0), {1, 2})))
        enz[l].push_back(v / denom);
    }
    for (std::size_t l = 0; l < dec.size(); ++l) {
      for (double v : mae_per_image(ops::compressed_coding_rate(dt[l].ln_b, dec[l]->subspaces(), e2, ops::kMeasurement)))
        drc[l].push_back(v);
      for (double v : mae_per_image(ops::compressed_coding_rate(dt[l].output, dec[l]->subspaces(), e2, ops::kMeasurement)))
        dout[l].push_back(v);
    }
    p.images += b->x.size(0);
  }
  for (auto& v : erc) p.encoder_rc.push_back(mae_stat(v));
  for (auto& v : enz) p.encoder_nonzero.push_back(mae_stat(v));
  for (auto& v : drc) p.decoder_rc.push_back(mae_stat(v));
  for (auto& v : dout) p.decoder_rc_out.push_back(mae_stat(v));
  return p;
}

void write_mae_profiles(const std::string& prefix, const std::vector<MaeProfile>& profiles, bool plot) {
  {
    const std::string tmp = prefix + ".csv.tmp";
    std::ofstream out(tmp);
    out << "profile,half,layer,rc_mean,rc_std,rc_out_mean,rc_out_std,nonzero_mean,nonzero_std\n";
    for (const auto& p : profiles) {
      for (std::size_t l = 0; l < p.encoder_rc.size(); ++l)
        out << fmt::format("{},encoder,{},{:.6f},{:.6f},,,{:.6f},{:.6f}\n", p.label, l + 1, p.encoder_rc[l].mean,
                           p.encoder_rc[l].std, p.encoder_nonzero[l].mean, p.encoder_nonzero[l].std);
      for (std::size_t l = 0; l < p.decoder_rc.size(); ++l)
        out << fmt::format("{},decoder,{},{:.6f},{:.6f},{:.6f},{:.6f},,\n", p.label, l + 1, p.decoder_rc[l].mean,
                           p.decoder_rc[l].std, p.decoder_rc_out[l].mean, p.decoder_rc_out[l].std);
    }
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write", tmp));
    out.close();
    std::rename(tmp.c_str(), (prefix + ".csv").c_str());
  }
  if (!plot) return;
  Panel rc{"R^c of each layer's MSSA input: encoder layers 1..L, then decoder layers", "layer (encoder, then decoder)",
           "R^c (eps^2 = 0.01)", {}, false};
  Panel nz{"encoder sparsity (ISTA output)", "encoder layer", "fraction of non-zeros", {}, false};
  for (const auto& p : profiles) {
    Series s{p.label, {}, {}, {}};
    for (std::size_t l = 0; l < p.encoder_rc.size(); ++l)
      s.x.push_back(static_cast<double>(l + 1)), s.y.push_back(p.encoder_rc[l].mean), s.err.push_back(p.encoder_rc[l].std);
    for (std::size_t l = 0; l < p.decoder_rc.size(); ++l)
      s.x.push_back(static_cast<double>(p.encoder_rc.size() + l + 1)), s.y.push_back(p.decoder_rc[l].mean),
          s.err.push_back(p.decoder_rc[l].std);
    rc.series.push_back(s);
    Series z{p.label, {}, {}, {}};
    for (std::size_t l = 0; l < p.encoder_nonzero.size(); ++l)
      z.x.push_back(static_cast<double>(l + 1)), z.y.push_back(p.encoder_nonzero[l].mean),
          z.err.push_back(p.encoder_nonzero[l].std);
    nz.series.push_back(z);
  }
  plot_png(prefix + ".png", {rc, nz}, 1100, 420);
}

}  // namespace wb::crate
