--[[
 AOFlagger strategy for ASKAP calibrator scans (PKS B1934-638 at the phase centre): used by
 the bandpass calibration. Science fields use askap.lua: their signal is not constant in
 time, and this strategy's time-only bandpass filter was measured to raise the demo field's
 median flux ratio from 0.987 to 1.062 (not yet understood; see the issue notes).
 AOFlagger strategy for ASKAP (36 x 12 m, linear feeds, ~1 MHz channels after averaging).
 Derived from AOFlagger's generic default strategy (version 2020-05-26, André Offringa, GPL-3).

 Changes for ASKAP:
 - input flags are kept and excluded from detection (flint always runs on a copy);
 - detection on the amplitudes of all four linear correlations, as in the generic default.
   No Stokes I pass: before calibration XX + YY sums two signals with independent X and Y
   instrumental phases, so it is not Stokes I and carries the structure of both bandpasses.
   On a simulated PKS B1934-638 scan the former XX, YY and I passes flagged 15 % of clean
   data and 10 % of baseline-integrations over the whole band (the whole-band flags appear
   only when the I pass runs after the XX and YY passes);
 - the high-pass filter that removes the bandpass before thresholding smooths along time
   only, per channel, when the scan has at least `flint_time_filter_min_integrations`
   integrations. ASKAP bandpasses have channel-to-channel structure of ~0.3 %, which a
   smooth surface in frequency cannot follow; on a calibrator (signal-to-noise ~35 per
   visibility) that residual is comparable to the noise and SumThreshold flagged it,
   mostly in the channels next to RFI (5 % of clean data flagged per pass, instead of
   0.02 % now). The signal of a calibrator scan is constant in time, so a per-channel
   running mean removes the bandpass exactly. Shorter sets fall back to the generic
   time-frequency smoothing, narrowed in frequency for the ASKAP beamformer ripple;
 - with the per-channel filter the whole-channel RMS test is skipped: a few unflagged
   samples of a broadband burst make a channel's RMS an outlier and it flagged the whole
   channel for all integrations (3.5 % of clean data with two bursts in 30 integrations).
   Narrow-band RFI is found by SumThreshold along time.

 Settings can be overridden from flint with `aoflagger -preamble "flint_<name> = value"`:
   flint_keep_input_flags (boolean, default true), flint_base_threshold (default 1.25),
   flint_iterations (default 3), flint_time_filter_min_integrations (default 10).
 Measured (tests/test_flagging.py): simulated calibrator beam, 30 integrations: 100 % of
 RFI flagged, 0.02 % of clean data; real 3-integration ASKAP set with injected noise and
 RFI: 99.9 % of RFI, 1.7 % of clean data (mostly next to RFI).
]]--

aoflagger.require_min_version("3.0")

local function setting(name, default)
  local value = _G["flint_" .. name]
  if value == nil then
    return default
  end
  return value
end

function execute(input)
  local flag_polarizations = input:get_polarizations()
  local base_threshold = setting("base_threshold", 1.25)
  local flag_representations = { "amplitude" }
  local iteration_count = setting("iterations", 3)
  local threshold_factor_step = 2.0
  local exclude_original_flags = setting("keep_input_flags", true)
  local frequency_resize_factor = 1.0
  local transient_threshold_factor = 1.0
  -- high-pass filter kernel (size and sigma in time and in frequency, in samples)
  local time_filter = #input:get_times() >= setting("time_filter_min_integrations", 10)
  local kernel = { 21, 11, 2.5, 2.0 }
  if time_filter then
    kernel = { 21, 1, 2.5, 1.0 }
  end

  local inpPolarizations = input:get_polarizations()

  if not exclude_original_flags then
    input:clear_mask()
  end
  local copy_of_input = input:copy()

  for ipol, polarization in ipairs(flag_polarizations) do
    local pol_data = input:convert_to_polarization(polarization)

    for _, representation in ipairs(flag_representations) do
      local data = pol_data:convert_to_complex(representation)
      local original_data = data:copy()

      for i = 1, iteration_count - 1 do
        local threshold_factor = math.pow(threshold_factor_step, iteration_count - i)
        local sumthr_level = threshold_factor * base_threshold
        if exclude_original_flags then
          aoflagger.sumthreshold_masked(data, original_data, sumthr_level,
            sumthr_level * transient_threshold_factor, true, true)
        else
          aoflagger.sumthreshold(data, sumthr_level, sumthr_level * transient_threshold_factor,
            true, true)
        end

        aoflagger.threshold_timestep_rms(data, 3.5)
        if not time_filter then
          local chdata = data:copy()
          aoflagger.threshold_channel_rms(chdata, 3.0 * threshold_factor, true)
          data:join_mask(chdata)
        end

        -- high-pass filter: subtract a smooth surface fitted to the unflagged data
        -- (the bandpass and the source), so that thresholds apply to the noise
        data:set_visibilities(original_data)
        if exclude_original_flags then
          data:join_mask(original_data)
        end
        local resized_data = aoflagger.downsample(data, 1, frequency_resize_factor, true)
        aoflagger.low_pass_filter(resized_data, kernel[1], kernel[2], kernel[3], kernel[4])
        aoflagger.upsample(resized_data, data, 1, frequency_resize_factor)

        local tmp = original_data - data
        tmp:set_mask(data)
        data = tmp
        aoflagger.set_progress((ipol - 1) * iteration_count + i, #flag_polarizations * iteration_count)
      end

      if exclude_original_flags then
        aoflagger.sumthreshold_masked(data, original_data, base_threshold,
          base_threshold * transient_threshold_factor, true, true)
      else
        aoflagger.sumthreshold(data, base_threshold, base_threshold * transient_threshold_factor,
          true, true)
      end
      if exclude_original_flags then
        data:join_mask(original_data) -- input flags stay flagged, as in the generic default
      end
      pol_data = data
    end

    local found = false
    for _, v in ipairs(inpPolarizations) do
      if v == polarization then
        found = true
      end
    end
    if found then
      local flagged = input:convert_to_polarization(polarization)
      flagged:set_mask(pol_data)
      input:set_polarization_data(polarization, flagged)
    else
      input:join_mask(pol_data)
    end
    aoflagger.set_progress(ipol, #flag_polarizations)
  end

  if exclude_original_flags then
    aoflagger.scale_invariant_rank_operator_masked(input, copy_of_input, 0.2, 0.2)
  else
    aoflagger.scale_invariant_rank_operator(input, 0.2, 0.2)
  end
  aoflagger.threshold_timestep_rms(input, 4.0)

  if input:is_complex() and input:has_metadata() then
    aoflagger.collect_statistics(input, copy_of_input)
  end
  input:flag_nans()
end
