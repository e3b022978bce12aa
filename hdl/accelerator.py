"""The accelerator top: an event-driven SNN core generated from a golden ``Network``."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ..golden.network import Decision, Network, NeuronKind
from .config import (ANSWER_LATENCY, COUNTER_BITS, DATA_BITS, ID_VALUE, REGISTERS, AddressMap,
                     HardwareConfig, config_signature)
from . import mutants, schedule
from .layer import LayerCore
from .neuron import stagers
from .protocol import InputKind, OutputKind, input_layout, output_layout

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """Runs ``network`` on the ``events`` stream, answering on ``results`` (see ``hdl.protocol``).

    Per step (at END_STEP), layer by layer: the layer's own spikes of the
    previous step (recurrent) are streamed into its synapse engine (input events
    of the first layer are accumulated as they arrive), then every neuron is
    updated while the new spikes stream on into the next layer's synapse engine.
    Then the step's outputs are streamed. ``cfg`` is the configuration port (``AddressMap``);
    ``busy`` is high while the core works (counted by the CYCLES counter).
    """

    def __init__(self, network: Network, config: HardwareConfig = HardwareConfig()):
        if not isinstance(network, Network):
            raise TypeError(f"Accelerator: network must be a spikeforge Network, not {network!r}")
        if not isinstance(config, HardwareConfig):
            raise TypeError(f"Accelerator: config must be a HardwareConfig, not {config!r}")
        network.validate()
        if any(i >= len(network.layers) for i in config.spram_layers):
            raise ValueError(f"Accelerator: HardwareConfig.spram_layers {config.spram_layers} names "
                             f"a layer the network ({len(network.layers)} layers) does not have")
        self._network, self._config = network, config
        self._map = AddressMap(network, config)
        super().__init__({
            "events": In(stream.Signature(input_layout(network))),
            "results": Out(stream.Signature(output_layout(network))),
            "cfg": In(config_signature(self._map.addr_bits)),
            "busy": Out(1),
        })

    @property
    def network(self):
        return self._network

    @property
    def config(self):
        return self._config

    @property
    def address_map(self):
        return self._map

    def elaborate(self, platform):
        m = Module()
        net, cfg, amap = self._network, self._config, self._map
        P = cfg.lanes
        layers = net.layers
        last = len(layers) - 1
        n_out = net.n_outputs
        lane_bits = exact_log2(P)
        offset_bits = max(r.offset_bits for r in amap.regions)

        # -- layer cores --
        cores = []
        n_in = net.n_inputs
        for i, layer in enumerate(layers):
            values = ("unit" if cfg.unit_inputs else "signed") if i == 0 else "spike"
            core = LayerCore(layer=layer, formats=net.formats, lanes=P,
                             acc_bits=net.accumulator(i).width, values=values,
                             value_bits=net.formats.input_bits,
                             regions=[r for r in amap.regions if r.layer == i],
                             offset_bits=offset_bits,
                             spram_weights=i in cfg.spram_layers,
                             rotation=net.theta.rotation if net.theta is not None else None)
            m.submodules[f"layer{i}"] = core
            cores.append((core, n_in))
            n_in = layer.size

        # -- counters --
        cycles = Signal(COUNTER_BITS)
        synops = Signal(COUNTER_BITS)
        updates = Signal(COUNTER_BITS)
        input_events = Signal(COUNTER_BITS)
        synapse_cycles = Signal(COUNTER_BITS)
        stall_cycles = Signal(COUNTER_BITS)
        step_cycles = Signal(COUNTER_BITS)
        input_cycles = Signal(COUNTER_BITS)
        spikes = [Signal(COUNTER_BITS, name=f"spikes{i}") for i in range(len(layers))]
        clear_counters = Signal()
        count_update = [Signal(name=f"count_update{i}") for i in range(len(layers))]
        count_input = Signal()
        dropped = Signal(COUNTER_BITS)
        count_dropped = Signal()
        step_events = Signal()                      # an event of this step was taken
        last_channel = Signal(range(max(net.n_inputs, 2)))

        # -- sequencer --
        out = self.results
        j = Signal(range(max(n_out, 2)))              # readout neuron
        best_j = Signal(range(max(n_out, 2)))         # argmax of this step's readout
        best_u = Signal(signed(net.formats.state_bits))
        counts = Array(Signal(COUNTER_BITS, name=f"count{k}") for k in range(n_out))
        best_c = Signal(COUNTER_BITS)
        best_cj = Signal(range(max(n_out, 2)))
        fs_found = Signal()
        fs_winner = Signal(range(max(n_out, 2)))
        reset_decisions = Signal()

        ro_core = cores[last][0]
        ro_lane = j[:lane_bits] if lane_bits else Const(0, 1)
        ro_state = ro_core.state[ro_lane]
        m.d.comb += ro_core.ro_addr.eq(j >> lane_bits)
        theta = layers[last].kind is NeuronKind.THETA
        # what a READOUT record carries: u, or a theta state packed as p * 2**B + q
        ro_value = Cat(ro_state.q, ro_state.p).as_signed() if theta else ro_state.u
        ttfs = net.decision is Decision.TTFS
        if ttfs:
            # ttfs: the first step any output spiked in decides among those outputs by phase
            # (ttfs_found, ttfs_winner); without one, the last step's phases decide (the
            # no-spike rule, at END_SAMPLE). A walk reads one output after the other:
            # address, latch, compare, keep. The comparison (golden.theta.phase_greater) forms
            # its two products shift-and-add over B - 1 clocks (q >= 0 has B - 1 bits), only
            # when there is something to compare: no multiplier for a few products per sample.
            out_spiked = Signal()        # an output spiked in this step
            ttfs_found = Signal()
            ttfs_winner = Signal(range(max(n_out, 2)))
            cand_p, cand_q = Signal.like(ro_state.p), Signal.like(ro_state.q)
            cand_s = Signal()
            best_p, best_q = Signal.like(ro_state.p), Signal.like(ro_state.q)
            best_have = Signal()
            best_tj = Signal(range(max(n_out, 2)))
            B = net.formats.state_bits
            prod_a, prod_b = Signal(signed(2 * B)), Signal(signed(2 * B))   # cand_p best_q, best_p cand_q
            addend_a, addend_b = Signal(signed(2 * B)), Signal(signed(2 * B))
            bits_a, bits_b = Signal(B - 1), Signal(B - 1)
            serial = Signal(range(B))
            greater = (prod_a > prod_b) | ((cand_q == 0) & (best_q == 0) & (cand_p > best_p))
            with m.If(cores[last][0].new_spikes.any()):
                m.d.sync += out_spiked.eq(1)

        def emit(kind, layer=0, index=0, value=0):
            m.d.comb += [out.valid.eq(1), out.payload.kind.eq(kind), out.payload.layer.eq(layer),
                         out.payload.index.eq(index), out.payload.value.eq(value)]

        # The schedule (hdl.schedule): the phases of a step and of a sample, in order; the FSM
        # below has one state group per phase, and the cycle model counts the same list.
        step_phases = schedule.step_phases(net, cfg)
        sample_phases = schedule.sample_phases(net)

        def name(prefix, n):
            return f"{prefix}{n}"

        def feed(src, dst, offset):
            """Connect layer ``src``'s spike list to layer ``dst``'s synapse engine (rows from
            ``offset``); returns whether that engine has absorbed what it was given."""
            spike_list, target = cores[src][0].spikes, cores[dst][0].events
            m.d.comb += [
                target.valid.eq(spike_list.valid),
                target.payload.src.eq(spike_list.payload + offset),
                spike_list.ready.eq(target.ready),
            ]
            if hasattr(target.payload, "value"):
                m.d.comb += target.payload.value.eq(1)
            return 1 if mutants.active("update_before_drain") else ~cores[dst][0].syn_busy

        # Input events enter the first layer's synapse engine while the sequencer idles, and
        # also once the first layer has updated (the rest of the step, its outputs included,
        # runs beside the next step's input): ``input_open``.
        ev = self.events.payload
        core0 = cores[0][0]
        input_open = Signal()
        opened = Signal()          # the first layer has updated in this step
        with m.If(ev.kind == InputKind.EVENT):
            with m.If(input_open):
                # one event per channel per step, as the accumulator bound assumes: a step's
                # channels must increase; anything else is dropped (counted)
                in_order = ~step_events | (ev.channel > last_channel)
                value_ok = ((ev.value == 1) | (ev.value == -1)) if cfg.unit_inputs \
                    else (ev.value != 0)
                useful = value_ok & (ev.channel < net.n_inputs) & in_order
                with m.If(self.events.valid & useful & core0.events.ready):
                    m.d.sync += [step_events.eq(1), last_channel.eq(ev.channel)]
                m.d.comb += [
                    count_dropped.eq(self.events.valid & ~useful),
                    core0.events.valid.eq(self.events.valid & useful),
                    core0.events.payload.src.eq(ev.channel),
                    core0.events.payload.value.eq(ev.value),
                    self.events.ready.eq(~useful | core0.events.ready),
                    count_input.eq(self.events.valid & useful & core0.events.ready),
                ]

        # the output the readout walk has just streamed (its decision update follows)
        taken_fields = {Decision.PER_STEP: ["u"], Decision.LAST: ["u"], Decision.SPIKE_COUNT: ["s"],
                        Decision.FIRST_SPIKE: ["s"]}.get(net.decision, [])
        taken = Signal(data.StructLayout({
            "valid": 1, "j": range(max(n_out, 2)),
            **{f: ro_state.shape().members[f] for f in taken_fields}}))
        m.d.sync += taken.valid.eq(0)

        # ``sequencing``: the sequencer is out of IDLE. A flip-flop set and cleared on the
        # transitions that leave and enter IDLE (so it equals ``~fsm.ongoing("IDLE")`` on
        # every clock), not a decode of the state: it gates every configuration strobe
        # (``busy``), and a decode there was the critical path at P = 8 on the ECP5.
        sequencing = Signal()

        def leave(target):
            m.next = target
            if target == "IDLE":
                m.d.sync += sequencing.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.Switch(ev.kind):
                    with m.Case(InputKind.EVENT):
                        pass                                   # taken above
                    with m.Case(InputKind.END_STEP):
                        # taken once the input events are in: the step starts on an idle engine
                        m.d.comb += self.events.ready.eq(~core0.syn_busy)
                        with m.If(self.events.valid & ~core0.syn_busy):
                            m.d.sync += [step_events.eq(0), opened.eq(0)]
                            if ttfs:
                                m.d.sync += out_spiked.eq(0)
                            m.next = name("S", 0)
                            m.d.sync += sequencing.eq(1)
                    with m.Case(InputKind.END_SAMPLE):
                        m.d.comb += self.events.ready.eq(~core0.syn_busy)
                        with m.If(self.events.valid & ~core0.syn_busy):
                            m.d.sync += [step_events.eq(0), opened.eq(0)]
                            m.next = name("E", 0)
                            m.d.sync += sequencing.eq(1)
                    with m.Default():
                        m.d.comb += self.events.ready.eq(1)   # unknown kinds are dropped

            for prefix, phases, done in (("S", step_phases, "IDLE"), ("E", sample_phases, "IDLE")):
                for n, phase in enumerate(phases):
                    here, after = name(prefix, n), (name(prefix, n + 1) if n + 1 < len(phases) else done)
                    kind = phase.kind
                    if kind == "ttfs_walk":
                        spiking_only = phase.first
                        skip = (ttfs_found | ~out_spiked) if spiking_only else ttfs_found
                        with m.State(here):
                            m.d.sync += [j.eq(0), best_have.eq(0)]
                            with m.If(skip):
                                leave(after)
                            with m.Else():
                                m.next = here + "A"
                        with m.State(here + "A"):      # address output j (ro_addr follows j)
                            m.next = here + "L"
                        with m.State(here + "L"):      # latch its state
                            m.d.sync += [cand_p.eq(ro_state.p), cand_q.eq(ro_state.q),
                                         cand_s.eq(ro_state.s), prod_a.eq(0), prod_b.eq(0),
                                         addend_a.eq(ro_state.p), addend_b.eq(best_p),
                                         bits_a.eq(best_q), bits_b.eq(ro_state.q), serial.eq(0)]
                            relevant = (ro_state.s if spiking_only else 1) & best_have
                            m.next = here + "C"
                            with m.If(~relevant):
                                m.next = here + "K"
                        with m.State(here + "C"):      # compare with the best so far
                            m.d.sync += [
                                prod_a.eq(prod_a + Mux(bits_a[0], addend_a, 0)),
                                prod_b.eq(prod_b + Mux(bits_b[0], addend_b, 0)),
                                addend_a.eq(addend_a << 1), addend_b.eq(addend_b << 1),
                                bits_a.eq(bits_a >> 1), bits_b.eq(bits_b >> 1),
                                serial.eq(serial + 1)]
                            with m.If(serial == B - 2):
                                m.next = here + "K"
                        with m.State(here + "K"):      # keep the greater
                            take = (cand_s if spiking_only else 1) & (~best_have | greater)
                            with m.If(take):
                                m.d.sync += [best_p.eq(cand_p), best_q.eq(cand_q),
                                             best_tj.eq(j), best_have.eq(1)]
                            with m.If(j == n_out - 1):
                                m.next = here + "D"
                            with m.Else():
                                m.d.sync += j.eq(j + 1)
                                m.next = here + "A"
                        with m.State(here + "D"):
                            m.d.sync += ttfs_winner.eq(best_tj)
                            if spiking_only:
                                m.d.sync += ttfs_found.eq(1)
                            leave(after)
                        continue
                    if kind in ("feed", "emit", "update", "clear", "readout", "count_max"):
                        with m.State(here):   # start the phase's engine, then wait in here + "W"
                            if kind in ("feed", "emit"):
                                m.d.comb += cores[phase.src][0].scan.eq(1)
                            elif kind == "update":
                                m.d.comb += [cores[phase.dst][0].update.eq(1),
                                             count_update[phase.dst].eq(1)]
                                if phase.feeds is not None:   # stream the spikes as they come
                                    m.d.comb += cores[phase.dst][0].scan.eq(1)
                            elif kind == "clear":
                                m.d.comb += [c.clear.eq(1) for c, _ in cores]
                                m.d.comb += reset_decisions.eq(1)
                            else:   # readout, count_max: walk the output neurons from 0
                                m.d.sync += j.eq(0)
                                m.d.comb += ro_core.ro_addr.eq(0)
                            m.next = here + "W"
                        here += "W"
                    with m.State(here):
                        if kind == "feed":
                            # done when the list is streamed and the engine has absorbed it
                            with m.If(~cores[phase.src][0].scan_busy
                                      & feed(phase.src, phase.dst, phase.offset)):
                                leave(after)
                        elif kind == "emit":
                            spike_list = cores[phase.src][0].spikes
                            with m.If(spike_list.valid):
                                emit(OutputKind.SPIKE, phase.src, spike_list.payload)
                            m.d.comb += spike_list.ready.eq(out.ready)
                            with m.If(~cores[phase.src][0].scan_busy):
                                leave(after)
                        elif kind == "update":
                            updating, target = phase.dst, phase.feeds
                            finished = ~cores[updating][0].upd_busy
                            if target is not None:
                                finished = finished & ~cores[updating][0].scan_busy & \
                                    feed(updating, target, 0)
                            with m.If(finished):
                                leave(after)
                            if updating == 0 and prefix == "S":
                                # the next step's input may come once the first layer's engine
                                # is done, while its spikes still stream into the next layer
                                with m.If(~cores[0][0].upd_busy):
                                    m.d.sync += opened.eq(1)
                        elif kind == "clear":
                            with m.If(~Cat(c.clear_busy for c, _ in cores).any()):
                                leave(after)
                        elif kind == "readout":
                            emit(OutputKind.READOUT, last, j, ro_value)
                            with m.If(out.ready):
                                m.d.sync += [taken.valid.eq(1), taken.j.eq(j)]
                                m.d.sync += [getattr(taken, f).eq(getattr(ro_state, f))
                                             for f in taken_fields]
                                m.d.comb += ro_core.ro_addr.eq((j + 1) >> lane_bits)
                                m.d.sync += j.eq(j + 1)
                                with m.If(j == n_out - 1):
                                    m.next = here + "F"
                        elif kind == "decide":
                            emit(OutputKind.DECISION, 0, best_j, 0)
                            with m.If(out.ready):
                                leave(after)
                        elif kind == "step_done":
                            emit(OutputKind.STEP_DONE)
                            with m.If(out.ready):
                                leave(after)
                        elif kind == "count_max":
                            with m.If((j == 0) | (counts[j] > best_c)):
                                m.d.sync += [best_c.eq(counts[j]), best_cj.eq(j)]
                            m.d.sync += j.eq(j + 1)
                            with m.If(j == n_out - 1):
                                leave(after)
                        elif kind == "decide_sample":
                            if net.decision is Decision.LAST:
                                emit(OutputKind.DECISION, 0, best_j, 0)
                            elif net.decision is Decision.SPIKE_COUNT:
                                emit(OutputKind.DECISION, 0, best_cj, 0)
                            elif ttfs:   # value 1: decided by the no-spike rule
                                emit(OutputKind.DECISION, 0, ttfs_winner, ~ttfs_found)
                            else:
                                emit(OutputKind.DECISION, 0, Mux(fs_found, fs_winner, 0),
                                     Mux(fs_found, 0, -1))
                            with m.If(out.ready):
                                leave(after)
                        elif kind == "sample_done":
                            emit(OutputKind.SAMPLE_DONE)
                            with m.If(out.ready):
                                leave(after)
                    if kind == "readout":
                        with m.State(here + "F"):      # the last output's decision update lands
                            leave(after)

        # The readout walk's decisions, a clock after each READOUT is taken, from registered
        # values (the lane select of the state word and the compare are not in one clock)
        with m.If(taken.valid):
            if net.decision in (Decision.PER_STEP, Decision.LAST):
                better = (taken.u >= best_u) if mutants.active("argmax_ties_high") \
                    else (taken.u > best_u)
                with m.If((taken.j == 0) | better):
                    m.d.sync += [best_u.eq(taken.u), best_j.eq(taken.j)]
            if net.decision is Decision.SPIKE_COUNT:
                m.d.sync += counts[taken.j].eq(counts[taken.j] + taken.s)
            if net.decision is Decision.FIRST_SPIKE:
                with m.If(taken.s & ~fs_found):
                    m.d.sync += [fs_found.eq(1), fs_winner.eq(taken.j)]

        with m.If(reset_decisions):
            m.d.sync += [best_j.eq(0), best_u.eq(0), fs_found.eq(0), fs_winner.eq(0)]
            if ttfs:
                m.d.sync += [ttfs_found.eq(0), ttfs_winner.eq(0)]
            m.d.sync += [c.eq(0) for c in counts]

        # -- counters --
        # CYCLES: the clocks the core works (the sequencer, or the first synapse engine issuing
        # input events' weight words); STEP_CYCLES: the sequencer's clocks; INPUT_CYCLES: the
        # input events' weight words (hdl.schedule predicts all three); ``busy`` (the port,
        # the CONTROL bit) also covers the engine's drain
        busy = Signal()
        working = Signal()
        m.d.comb += [busy.eq(sequencing | cores[0][0].syn_busy), self.busy.eq(busy),
                     working.eq(sequencing | cores[0][0].syn_issuing),
                     input_open.eq(~sequencing | opened)]
        # each clock's operations, registered before the counters add them (no handshake
        # logic or sum of layers in front of a 32-bit adder)
        synop_terms = [Mux(c.events.valid & c.events.ready,
                           layer.size + (i == 0 and mutants.active("synops_off_by_one")), 0)
                       for i, ((c, _), layer) in enumerate(zip(cores, layers))]
        update_terms = [Mux(count_update[i], layer.size, 0) for i, layer in enumerate(layers)]
        synop_step = Signal(range(sum(l.size for l in layers) + 2))
        update_step = Signal(range(sum(l.size for l in layers) + 1))
        m.d.sync += [synop_step.eq(sum(synop_terms)), update_step.eq(sum(update_terms))]
        # a layer's new spikes come out of its neuron engine's last stage (the threshold
        # compare): registered once before they are counted, so no compare feeds an adder
        spiked_regs = [Signal(P, name=f"spiked{i}") for i in range(len(layers))]
        m.d.sync += [r.eq(c.new_spikes) for r, (c, _) in zip(spiked_regs, cores)]
        # and so is every one-bit count (no state decode or handshake in front of an adder)
        counted = [(cycles, working), (stall_cycles, working & out.valid & ~out.ready),
                   (step_cycles, sequencing), (input_cycles, cores[0][0].syn_issuing & input_open),
                   (input_events, count_input), (dropped, count_dropped),
                   (synapse_cycles, Cat(c.syn_busy for c, _ in cores).any())]
        increments = []
        for counter, condition in counted:
            bit = Signal(name=f"{counter.name}_inc")
            m.d.sync += bit.eq(condition)
            increments.append((counter, bit))
        with m.If(clear_counters):
            m.d.sync += [c.eq(0) for c in (cycles, synops, updates, input_events, synapse_cycles,
                                           stall_cycles, step_cycles, input_cycles, dropped,
                                           *spikes)]
        with m.Else():
            m.d.sync += [counter.eq(counter + bit) for counter, bit in increments]
            m.d.sync += [synops.eq(synops + synop_step), updates.eq(updates + update_step)]
            for spiked, counter in zip(spiked_regs, spikes):
                m.d.sync += counter.eq(counter + sum(spiked[lane] for lane in range(P)))

        # -- configuration port --
        # The port's request is registered before it is decoded (one clock more for every
        # access; no decode logic between the host's signals and the memories' ports).
        bus = _Request(self.cfg, m)
        # Memory regions are the engines' too: while the core is busy an access to one is
        # refused (a write is dropped, a read answers 0) and flagged in CONTROL bit 1.
        refused = Signal()
        registers = {REGISTERS["ID"]: Const(ID_VALUE, DATA_BITS), REGISTERS["CONTROL"]: Cat(busy, refused),
                     REGISTERS["CYCLES"]: cycles, REGISTERS["SYNOPS"]: synops,
                     REGISTERS["NEURON_UPDATES"]: updates, REGISTERS["INPUT_EVENTS"]: input_events,
                     REGISTERS["SYNAPSE_CYCLES"]: synapse_cycles,
                     REGISTERS["STALL_CYCLES"]: stall_cycles,
                     REGISTERS["DROPPED_EVENTS"]: dropped,
                     REGISTERS["STEP_CYCLES"]: step_cycles, REGISTERS["INPUT_CYCLES"]: input_cycles}
        for i, counter in enumerate(spikes):
            registers[REGISTERS["SPIKES"] + i] = counter
        reg_region = amap.regions[0]
        # a read answers ANSWER_LATENCY clocks after its decision, as the layers' read data
        # does; a register's value (registered once below) waits as long
        reg_data = Signal(DATA_BITS)
        m.d.sync += reg_data.eq(0)
        _, delay = stagers(m)
        reg_answer = delay(reg_data, ANSWER_LATENCY - 1)
        m.d.comb += bus.r_valid.eq(delay(bus.r_stb, ANSWER_LATENCY))
        hit_regs = bus.hit(reg_region)
        with m.If(bus.r_stb & hit_regs):
            with m.Switch(bus.addr[:reg_region.offset_bits]):
                for address, value in registers.items():
                    with m.Case(address):
                        m.d.sync += reg_data.eq(value)
        with m.If(bus.w_stb & hit_regs & (bus.addr[:reg_region.offset_bits] == REGISTERS["CONTROL"])):
            m.d.comb += clear_counters.eq(bus.w_data[0])
            with m.If(bus.w_data[1]):
                m.d.sync += refused.eq(0)
        with m.If((bus.w_stb | bus.r_stb) & ~hit_regs & busy):
            m.d.sync += refused.eq(1)
        rdata = reg_answer
        for core, _ in cores:
            m.d.comb += [core.cfg_offset.eq(bus.addr), core.cfg_wdata.eq(bus.w_data)]
            rdata = rdata | core.cfg_rdata
        for region in amap.regions[1:]:
            core = cores[region.layer][0]
            hit = bus.hit(region)
            m.d.comb += [
                getattr(core, f"cfg_we_{region.memory}").eq(bus.w_stb & hit & ~busy),
                getattr(core, f"cfg_re_{region.memory}").eq(bus.r_stb & hit & ~busy),
            ]
        m.d.comb += self.cfg.r_data.eq(rdata)
        return m


class _Request:
    """The configuration port's request (addr, w_data, w_stb, r_stb) one clock later, and its
    ``r_valid`` answer driven on the port. ``hit(region)``: the request's address is in
    ``region``, decoded from the port's address and registered with it (the same value as a
    decode of ``addr``, with no compare between the register and the memories' ports)."""

    def __init__(self, port, m):
        self._port, self._m = port, m
        self.addr, self.w_data = Signal.like(port.addr), Signal.like(port.w_data)
        self.w_stb, self.r_stb = Signal(), Signal()
        m.d.sync += [self.addr.eq(port.addr), self.w_data.eq(port.w_data),
                     self.w_stb.eq(port.w_stb), self.r_stb.eq(port.r_stb)]
        self.r_valid = port.r_valid

    def hit(self, region):
        hit = Signal(name=f"hit_{region.name.replace('.', '_')}")
        self._m.d.sync += hit.eq((self._port.addr >> region.offset_bits)
                                 == (region.base >> region.offset_bits))
        return hit

